/** A CLI subcommand. `run` returns the process exit code; it throws only for unexpected errors. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}
