# expect_exit.cmake — test script: `prism no-such-command` must print the usage on stderr and exit with status 2.
execute_process(COMMAND ${EXE} no-such-command RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "expected exit status 2, got '${rc}'\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT err MATCHES "unknown command 'no-such-command'" OR NOT err MATCHES "usage: prism")
  message(FATAL_ERROR "expected the usage on stderr, got:\n${err}")
endif()
