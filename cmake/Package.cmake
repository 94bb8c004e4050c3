# Package.cmake - what `cmake --install` puts besides the libraries, the
# headers (engine/) and the command (cli/): the CMake package, ringprobe.pc
# and the man pages. Included from the top-level CMakeLists.txt.
include(CMakePackageConfigHelpers)

# The CMake package: find_package(ringprobe CONFIG) gives
# ringprobe::ringprobe (shared) and ringprobe::static; see
# ringprobeConfig.cmake.in. Everything in it is relative to where it is
# installed, so an installed tree may be moved.
set(RP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringprobe)
install(EXPORT ringprobeSharedTargets NAMESPACE ringprobe::
  DESTINATION ${RP_CMAKE_DIR})
install(EXPORT ringprobeStaticTargets NAMESPACE ringprobe::
  DESTINATION ${RP_CMAKE_DIR})
configure_package_config_file(cmake/ringprobeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ringprobeConfig.cmake
  INSTALL_DESTINATION ${RP_CMAKE_DIR} NO_SET_AND_CHECK_MACRO)
# Semantic versioning: from 1.0 a release is compatible with the earlier
# ones of its major version (SameMajorVersion: find_package(ringprobe 1.2)
# takes 1.5, not 2.0). Before 1.0 the API may change in any minor release
# (README), so 0.x is compatible only within its minor version.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(RP_COMPAT SameMinorVersion)
else()
  set(RP_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringprobeConfigVersion.cmake
  COMPATIBILITY ${RP_COMPAT})
install(FILES ${PROJECT_BINARY_DIR}/ringprobeConfig.cmake
  ${PROJECT_BINARY_DIR}/ringprobeConfigVersion.cmake DESTINATION ${RP_CMAKE_DIR})

# ringprobe.pc. Its prefix is the one installed to, which
# `cmake --install --prefix P` may change after configuring: the file is
# configured now with @RP_PC_PREFIX@ left in, and finished at install time.
set(RP_PC_PREFIX "@RP_PC_PREFIX@")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(RP_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(RP_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
string(REPLACE ">=" " >= " RP_PC_REQUIRES_PRIVATE
       "${RP_URING_REQ}, ${RP_CARES_REQ}, ${RP_SSL_REQ}")
configure_file(cmake/ringprobe.pc.in ${PROJECT_BINARY_DIR}/ringprobe.pc.in @ONLY)
install(CODE "set(RP_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/ringprobe.pc.in\"
                 \"${PROJECT_BINARY_DIR}/ringprobe.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/ringprobe.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES docs/man/ringprobe.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES docs/man/libringprobe.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
