// Preloaded (`node --import`) into a bench's CLI children (processes.ts
// spawnCli): they end when the bench is gone, even one killed with SIGKILL.
import { endWithParent } from './processes.js';

endWithParent();
