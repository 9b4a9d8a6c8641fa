/* launch.h — `prism run`, the distributed job launcher of the prism tool (core/cli only). */
#ifndef PRISM_CORE_CLI_LAUNCH_H_
#define PRISM_CORE_CLI_LAUNCH_H_

/* Runs `prism run` with the arguments after "run"; returns the exit code. */
int prism_cli_run(int argc, char** argv);

#endif /* PRISM_CORE_CLI_LAUNCH_H_ */
