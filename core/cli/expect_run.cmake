# expect_run.cmake — test script: runs EXE with ARGS ("@@"-separated), requires exit status RC (default 0) and output matching MATCH.
#
# PASS_REGULAR_EXPRESSION alone ignores the exit status (a crash or a
# sanitizer report after the expected text would pass), so the cli tests
# check both here. UNSET names an environment variable to remove first.
if(DEFINED UNSET AND NOT UNSET STREQUAL "")
  unset(ENV{${UNSET}})
endif()
if(NOT DEFINED RC OR RC STREQUAL "")
  set(RC 0)
endif()
string(REPLACE "@@" ";" args "${ARGS}")
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "${RC}")
  message(FATAL_ERROR "'${EXE} ${args}': expected exit status ${RC}, got '${rc}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED MATCH AND NOT MATCH STREQUAL "" AND NOT "${out}${err}" MATCHES "${MATCH}")
  message(FATAL_ERROR "'${EXE} ${args}': output does not match '${MATCH}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED REJECT AND NOT REJECT STREQUAL "" AND "${out}${err}" MATCHES "${REJECT}")
  message(FATAL_ERROR "'${EXE} ${args}': output matches '${REJECT}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if("${err}" MATCHES "(AddressSanitizer|LeakSanitizer|runtime error:)")
  message(FATAL_ERROR "'${EXE} ${args}': sanitizer report\n${err}")
endif()
message(STATUS "exit ${rc}:\n${out}")
