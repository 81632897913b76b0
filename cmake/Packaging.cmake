# Installation layout and the Debian package: the binary, a hardened systemd unit, an example
# TOML config, the man page (packaging/coffer.1.in, gzipped at build time) and the docs.
# `cmake --install BUILD --prefix P` lays them out under P; `cpack -G DEB` (in BUILD) builds the
# .deb; scripts/test-deb.sh builds, installs, starts and purges it.
include(GNUInstallDirs)

configure_file(${CMAKE_SOURCE_DIR}/packaging/coffer.service.in
               ${CMAKE_BINARY_DIR}/packaging/coffer.service @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/packaging/coffer.1.in ${CMAKE_BINARY_DIR}/packaging/coffer.1
               @ONLY)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/packaging/coffer.1.gz
  COMMAND gzip -9nc ${CMAKE_BINARY_DIR}/packaging/coffer.1 > ${CMAKE_BINARY_DIR}/packaging/coffer.1.gz
  DEPENDS ${CMAKE_BINARY_DIR}/packaging/coffer.1
  COMMENT "Compressing the man page")
add_custom_target(coffer_man ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/coffer.1.gz)

install(FILES ${CMAKE_BINARY_DIR}/packaging/coffer.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_BINARY_DIR}/packaging/coffer.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/coffer.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/operations.md
              ${CMAKE_SOURCE_DIR}/docs/openapi.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME coffer)
set(CPACK_PACKAGE_VENDOR "Coffer")
set(CPACK_PACKAGE_CONTACT "Coffer maintainers <coffer@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "secrets vault for AI agents and the people who run them")
set(CPACK_PACKAGE_DESCRIPTION
    "Coffer keeps credentials encrypted at rest, versioned and rotatable, and hands them to\n agents under per-vault policies with a hash-chained audit trail.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers, util-linux, tzdata")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
