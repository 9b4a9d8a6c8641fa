/* profile.h — `prism profile`, which runs a program with the op profiler on (core/cli only). */
#ifndef PRISM_CORE_CLI_PROFILE_H_
#define PRISM_CORE_CLI_PROFILE_H_

/* Runs `prism profile` with the arguments after "profile"; returns the exit code. */
int prism_cli_profile(int argc, char** argv);

#endif /* PRISM_CORE_CLI_PROFILE_H_ */
