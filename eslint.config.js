// Lint: typescript-eslint with type information, so that the rules which need
// the checker run (floating and misused promises, awaiting non-thenables,
// needless assertions, throwing non-errors). Formatting is prettier's job.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'public/**', 'test-results/**', '**/*.d.ts', 'eslint.config.js', 'bin/**', '.venv-ray/**', 'tmp/**', '.tabmesh/**'],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Template strings print numbers, arrays and ids on purpose.
      '@typescript-eslint/restrict-template-expressions': 'off',
      // Fastify handlers and API methods are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `h('input', …) as HTMLInputElement` and the like read better than type arguments.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Rejections forward what another promise rejected with (already an Error, or a Failure).
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    // The boundaries where values are untyped by nature: generic type machinery of the API
    // (types, the message checkers), user functions and classes run by executors, proxies
    // for actor handles, vm contexts of jobs, the browser sandbox, msgpackr extensions and
    // the platform seams (simple-peer, ioredis replies). `any` stays inside these files.
    files: [
      'shared/api/types.ts',
      'shared/api/mesh.ts',
      'shared/api/mesh-base.ts',
      'shared/api/options.ts',
      'shared/api/actor.ts',
      'shared/protocol/check.ts',
      'shared/transfer/raw-peer.ts',
      'shared/executor/core.ts',
      'shared/executor/task-code.ts',
      'shared/codec.ts',
      'client-web/node/sandbox.ts',
      'coordinator/jobs/worker.ts',
      'coordinator/gcs/redis-storage.ts',
    ],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
    },
  },
  {
    // Tests poke at untyped internals and at hostile inputs on purpose; type tests leave promises floating on purpose.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
);
