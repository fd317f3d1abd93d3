// The command line's help texts that no table generates: `confine --help`, `confine doctor --help`
// and the exit statuses. `confine run --help` is made from the flag table (flags.ts).

export const EXIT_STATUS = `exit status of confine run:
  the program's, or 128+N when it ended by signal N (also after --timeout or an
  OOM kill)
  2    bad usage (a flag or value confine cannot use)
  125  confine itself failed (the program did not start)
  126  FILE is not executable (a directory, no permission, not a program)
  127  FILE was not found`;

export const TOP_USAGE = `usage: confine <command> [options]

commands:
  run [options] [--] FILE [ARGS...]   run FILE confined; exits with its status
  doctor [--json]                     what this host can enforce, and why not

  confine <command> --help            the options of a command
  confine --version                   the version of confine

${EXIT_STATUS}`;

export const DOCTOR_USAGE = `usage: confine doctor [--json]

Says which backend confine picks here, what each limit would be enforced with
(or why not), what the host lacks, and task cgroups left behind by supervisors
that died.

  --json       the same as one JSON object on stdout
  -h, --help   this help`;
