# SPDX-License-Identifier: MIT
# browsers.cmake: the macOS and Windows installer scripts, filled in from
# the browser table in host/admin/browsers.c by nmstore-browsers (a build tool,
# never installed). Those scripts run where nmstore cannot be asked which
# folders or registry keys to write, so the build writes them in; the
# Linux packages run `nmstore install --system --browser all` instead.
#   build/packaging/macos/scripts/postinstall  (pkgbuild --scripts, build-pkg.sh)
#   build/packaging/windows/register.ps1       (nmstore.iss)
add_executable(nmstore-browsers packaging/nmstore-browsers.c)
target_include_directories(nmstore-browsers PRIVATE ${PROJECT_SOURCE_DIR}/host)
target_compile_options(nmstore-browsers PRIVATE ${NMSTORE_WARNINGS})
target_link_libraries(nmstore-browsers PRIVATE nmstore-core)

# A cross build cannot run the tool it built (unless CMake has an emulator
# for it): say so rather than fail the build; build the installer scripts
# natively (build-pkg.sh on a Mac, MSYS2 on Windows).
if(CMAKE_CROSSCOMPILING AND NOT CMAKE_CROSSCOMPILING_EMULATOR)
  message(STATUS "Cross-compiling: the macOS and Windows installer scripts are not written; "
                 "build natively, or set CMAKE_CROSSCOMPILING_EMULATOR, to get them")
  return()
endif()

set(_browsers_out ${CMAKE_BINARY_DIR}/packaging)
set(_browsers_scripts)
foreach(pair "macos/postinstall.in|macos/scripts/postinstall|755"
             "windows/register.ps1.in|windows/register.ps1|644")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 template)
  list(GET pair 1 output)
  list(GET pair 2 mode)
  get_filename_component(_dir ${_browsers_out}/${output} DIRECTORY)
  add_custom_command(OUTPUT ${_browsers_out}/${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_dir}
    COMMAND nmstore-browsers fill ${CMAKE_CURRENT_LIST_DIR}/${template} ${_browsers_out}/${output} ${mode}
    DEPENDS nmstore-browsers ${CMAKE_CURRENT_LIST_DIR}/${template}
    COMMENT "Filling ${output} from the browser table"
    VERBATIM)
  list(APPEND _browsers_scripts ${_browsers_out}/${output})
endforeach()
add_custom_target(nmstore-installer-scripts ALL DEPENDS ${_browsers_scripts})
