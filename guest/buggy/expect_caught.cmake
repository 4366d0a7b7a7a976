# expect_caught.cmake - ctest driver for the buggy.* tests (tests/CMakeLists.txt).
#
#   cmake -DHVSIM=<hvsim> -DSCENARIO=<file.json> -DGUEST=<buggy elf> -DEXPECTATION=<name> -P expect_caught.cmake
#
# Runs `hvsim scenario SCENARIO --set /machine/guest=GUEST --no-console` and succeeds only if the
# scenario caught the bug: exit status exactly 1 (a failed check; not 0, nor 2 bad scenario,
# 3 crash, 4 watchdog) and among the failures printed ("hvsim: FAILED /expect/N NAME: ...") is
# the expectation named EXPECTATION, the one meant to catch this bug. The output is echoed.

foreach(var HVSIM SCENARIO GUEST EXPECTATION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_caught.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${HVSIM} scenario ${SCENARIO} --set /machine/guest=${GUEST} --no-console
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status STREQUAL "1")
  message(FATAL_ERROR "expected exit status 1 (the scenario catches the bug), got ${status}")
endif()
string(REGEX MATCHALL "FAILED /expect/[0-9]+ " failures "${out}${err}")
foreach(failure IN LISTS failures)
  string(FIND "${out}${err}" "${failure}${EXPECTATION}: " at)
  if(NOT at EQUAL -1)
    return()
  endif()
endforeach()
message(FATAL_ERROR "status 1, but the expectation \"${EXPECTATION}\" did not fail")
