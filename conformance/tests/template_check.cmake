# template_check.cmake — installs the build to a temporary prefix, checks the install finds its plugins, builds plugins/template (-Werror) and plugins/emu out of tree against it, and runs every conformance mode.
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
# A relocated install finds its own plugin directory (no PRISM_PLUGIN_PATH).
run("prism info from the install" ${CMAKE_COMMAND} -E env --unset=PRISM_PLUGIN_PATH ${prefix}/bin/prism info)
if(NOT last_output MATCHES "devices \\([1-9][0-9]*\\)" OR NOT last_output MATCHES "lib[^ \n]*/prism/plugins/libprism-")
  message(FATAL_ERROR "the installed prism found no plugin of ${prefix}:\n${last_output}")
endif()
foreach(plugin template emu)
  run("configure ${plugin} out of tree" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/plugins/${plugin} -B ${WORK_DIR}/${plugin}
      -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=-Werror")
  run("build ${plugin} (-Werror)" ${CMAKE_COMMAND} --build ${WORK_DIR}/${plugin})
endforeach()
run("conformance on the template, every mode" ${CMAKE_COMMAND} -E env --unset=PRISM_PLUGIN_PATH
    ${prefix}/bin/prism-conformance --plugin ${WORK_DIR}/template/libprism-template.so
    --mode abi,ops,rng,support,grad,async --report ${WORK_DIR}/conformance.json --junit ${WORK_DIR}/conformance.xml)
message("${last_output}")
run("conformance on the out-of-tree emu" ${CMAKE_COMMAND} -E env --unset=PRISM_PLUGIN_PATH
    ${prefix}/bin/prism-conformance --plugin ${WORK_DIR}/emu/libprism-emu.so --mode abi,ops,support --quiet)
