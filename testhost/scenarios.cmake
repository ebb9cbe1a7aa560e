# Included by the top CMakeLists.txt after enable_testing(): one ctest test
# `guest.<name>` per testhost/scenarios/<name>.sh, run in the test host by
# testhost/run.sh. Labelled `guest` (ctest -L guest / -LE guest) and serial:
# each one keeps a CPU busy with TCG.
file(GLOB KHYVE_GUEST_SCENARIOS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/scenarios/*.sh)
set(KHYVE_GUEST_TIMEOUT 900 CACHE STRING "Seconds one guest scenario may take")
foreach(scenario ${KHYVE_GUEST_SCENARIOS})
  get_filename_component(name ${scenario} NAME_WE)
  add_test(NAME guest.${name}
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/run.sh --build ${CMAKE_BINARY_DIR}
            --timeout ${KHYVE_GUEST_TIMEOUT} ${name})
  # run.sh stops qemu at KHYVE_GUEST_TIMEOUT; ctest's limit is only a backstop.
  math(EXPR ctest_timeout "${KHYVE_GUEST_TIMEOUT} + 120")
  set_tests_properties(guest.${name} PROPERTIES
    LABELS guest RUN_SERIAL TRUE TIMEOUT ${ctest_timeout})
endforeach()
