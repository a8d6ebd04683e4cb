// Fastify's request validators compiled on a route's first request, not at start (issue 14, session 36). Fastify
// compiles every route's schemas with Ajv when the app gets ready: 180-240 ms of `tabmesh start`'s loop under the
// soak at load 39-50 (one 10 s stretch at load 57, session 35), in every coordinator a test starts, for ~70 routes of
// which a run uses a few. Each validator is Fastify's own (@fastify/ajv-compiler, the server's `ajv` options), built
// once, at the first request that needs it.
import AjvCompiler from '@fastify/ajv-compiler';

type BuildValidator = ReturnType<typeof AjvCompiler>;
type Compiled = ReturnType<ReturnType<BuildValidator>>;

/** Validators built so far by this process (tests: none at start, one a route part at its first request). */
export const lazyValidatorStats = { built: 0 };

/** A `schemaController.compilersFactory.buildValidator` whose validators compile when first called. */
export function lazyValidators(build: BuildValidator = AjvCompiler()): BuildValidator {
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      let fn: Compiled | null = null;
      const validate = ((data: unknown, cxt?: object) => {
        if (!fn) {
          fn = compile(route);
          lazyValidatorStats.built++;
        }
        const ok = (fn as (d: unknown, c?: object) => unknown)(data, cxt);
        validate.errors = fn.errors;
        return ok;
      }) as Compiled;
      // Fastify passes (data, { parentData, parentDataProperty }) to an Ajv function (it has `schemaEnv`), which lets
      // Ajv set a root value; Ajv's functions take that second argument whatever the schema.
      Object.defineProperty(validate, 'schemaEnv', { value: true });
      return validate;
    };
  };
}
