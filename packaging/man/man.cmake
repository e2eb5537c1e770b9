# SPDX-License-Identifier: MIT
# man.cmake: nmstore(1), generated at build time by help2man from the
# program's own --help and --version, with a COMMANDS section built from
# each `nmstore COMMAND --help` (commands-h2m.sh), so that the page always
# says what this very binary accepts. Without help2man the build goes on
# and says so; the packages' stage (tests/stages/60-packages.sh) checks
# that they hold the page.
find_program(HELP2MAN help2man)
find_program(GZIP_FOR_MAN gzip)
if(NOT HELP2MAN OR NOT GZIP_FOR_MAN)
  message(STATUS "help2man or gzip not found: the man page nmstore.1 is not built "
                 "(install help2man, e.g. apt install help2man, and configure again)")
  return()
endif()
set(_man_dir ${CMAKE_BINARY_DIR}/man)
set(_commands_h2m ${_man_dir}/commands.h2m)
add_custom_command(
  OUTPUT ${_man_dir}/nmstore.1.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${_man_dir}
  COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/commands-h2m.sh $<TARGET_FILE:nmstore> ${_commands_h2m}
  # SOURCE_DATE_EPOCH: the page's date is the build's, reproducibly when set.
  COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${HELP2MAN} --no-info --section 1
          --name "durable key-value store for browser extensions"
          # The version alone: the whole first line of --version (protocol,
          # host name) is too long for the page's footer.
          --version-string ${PROJECT_VERSION}
          --include ${_commands_h2m} --output ${_man_dir}/nmstore.1 $<TARGET_FILE:nmstore>
  COMMAND ${GZIP_FOR_MAN} -9nf ${_man_dir}/nmstore.1
  DEPENDS nmstore ${CMAKE_CURRENT_LIST_DIR}/commands-h2m.sh
  COMMENT "Generating the man page nmstore.1 with help2man"
  VERBATIM)
add_custom_target(nmstore-man ALL DEPENDS ${_man_dir}/nmstore.1.gz)
install(FILES ${_man_dir}/nmstore.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
