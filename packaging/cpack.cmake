# SPDX-License-Identifier: MIT
# cpack.cmake: the .deb and .rpm. Configure with -DCMAKE_INSTALL_PREFIX=/usr
# and run `cpack -G DEB` or `cpack -G RPM` in the build directory. Their
# maintainer scripts run the installed nmstore to write the system-wide
# manifests, so the manifests are never files the package owns: they
# always name the binary that is really installed.
set(NMSTORE_PKG_DIR ${CMAKE_BINARY_DIR}/packaging)
foreach(script postinst prerm rpm-post rpm-preun)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/linux/${script}.in ${NMSTORE_PKG_DIR}/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()

# Debian policy: a copyright file and a compressed changelog in the doc folder.
find_program(GZIP_PROGRAM gzip)
if(GZIP_PROGRAM)
  execute_process(COMMAND ${GZIP_PROGRAM} -9nc ${CMAKE_CURRENT_LIST_DIR}/linux/changelog
                  OUTPUT_FILE ${NMSTORE_PKG_DIR}/changelog.gz)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/linux/copyright ${NMSTORE_PKG_DIR}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

set(CPACK_PACKAGE_NAME nmstore)
set(CPACK_PACKAGE_VENDOR nmstore)
set(CPACK_PACKAGE_CONTACT "nmstore maintainers <maintainers@nmstore.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "durable key-value store for browser extensions")
set(CPACK_PACKAGE_DESCRIPTION "nmstore is a native-messaging host (org.nmstore.host) that keeps
browser-extension data in one SQLite database per extension, and a
command line to inspect it. The package registers it for every user
with every browser `nmstore install --help` lists.")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://nmstore.org/")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libsecret is loaded only when the desktop keyring is used (keysource.c):
# shlibdeps does not see it, and nmstore works without it.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libsecret-1-0")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${NMSTORE_PKG_DIR}/postinst ${NMSTORE_PKG_DIR}/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
set(CPACK_RPM_PACKAGE_GROUP "Applications/Internet")
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${NMSTORE_PKG_DIR}/rpm-post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${NMSTORE_PKG_DIR}/rpm-preun)
# The folders above the package's own files belong to the filesystem package
# (and man-db's, bash-completion's and zsh's packages).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION /usr/share/doc /usr/share/nmstore /usr/share/man
    /usr/share/man/man1 /usr/share/bash-completion /usr/share/bash-completion/completions /usr/share/zsh)
# Requires: rpmbuild's automatic dependency generation, one per shared
# library the binary links (libsodium.so.NN()(64bit), ...), not package
# names written here. Names differ between distributions and releases
# (Fedora: glib2, libsodium, sqlite-libs, cjson, libsecret), while the
# sonames say exactly what this binary needs; dnf finds the package that
# provides each. They are those of the machine that built the rpm, so
# build it on the Fedora release it is for (a container will do).
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
# libsecret, loaded only when the keyring is used, is not among them, and
# CMake 3.25's rpm generator drops weak dependencies (it takes rpm 4.18 for
# one without them): the README says to install it for --keyring.

include(CPack)
