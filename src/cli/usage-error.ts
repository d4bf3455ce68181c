import { SocraticDistillError } from '../errors.js';

/** A command-line invocation is wrong (unknown flag, missing value, bad number). */
export class CliUsageError extends SocraticDistillError {
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}
