# template_check.cmake — installs the build to a temporary prefix, builds plugins/template against it and runs conformance.
#
# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P template_check.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message("${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run("configure the template" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/plugins/template -B ${WORK_DIR}/build
    -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
run("build the template" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run("conformance on the template" ${prefix}/bin/prism-conformance --plugin ${WORK_DIR}/build/libprism-template.so
    --mode abi,ops,rng,support --report ${WORK_DIR}/conformance.json --junit ${WORK_DIR}/conformance.xml)
message("${last_output}")
