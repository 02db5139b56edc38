# What `cmake --install` puts where, and the Debian package CPack makes of it
# (packaging/deb.sh). Included last from the top-level CMakeLists.txt.
#
#   bin/regionchat, bin/regionchat-cli
#   lib/regionchat/plugins/libregionchat_spm.so
#                                           private: the SentencePiece plugin the tokenizer
#                                           opens from <exe>/../lib/regionchat/plugins (core/
#                                           is static). In a folder of its own below
#                                           lib/regionchat so that CPack adds no ldconfig
#                                           calls for it (it is dlopen()ed by path).
#   share/regionchat/models/shapes-tiny/    the embedded model (rc::embedded_model_dir())
#   share/regionchat/samples/               sample images and benchmark sets (rc::samples_dir())
#   share/applications, share/metainfo, share/mime/packages, share/icons/hicolor
#   share/man/man1/*.1.gz, share/doc/regionchat/{copyright,changelog.gz}
# Paths under share/ are literal (not GNUInstallDirs' LIBDIR): the program finds its data
# relative to its own executable, so the layout must not depend on the distribution.
set(REGIONCHAT_APP_ID io.github.regionchat.RegionChat)
set(REGIONCHAT_DESKTOP_DIR ${PROJECT_SOURCE_DIR}/resources/desktop)

install(TARGETS regionchat-cli RUNTIME DESTINATION bin)
if(TARGET regionchat)
  install(TARGETS regionchat RUNTIME DESTINATION bin)
endif()
install(TARGETS regionchat_spm LIBRARY DESTINATION lib/regionchat/plugins)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/models/shapes-tiny
        DESTINATION share/regionchat/models)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/samples/
        DESTINATION share/regionchat/samples)

# Desktop integration.
install(FILES ${REGIONCHAT_DESKTOP_DIR}/${REGIONCHAT_APP_ID}.desktop
        DESTINATION share/applications)
install(FILES ${REGIONCHAT_DESKTOP_DIR}/${REGIONCHAT_APP_ID}.metainfo.xml
        DESTINATION share/metainfo)
install(FILES ${REGIONCHAT_DESKTOP_DIR}/${REGIONCHAT_APP_ID}.mime.xml
        DESTINATION share/mime/packages RENAME ${REGIONCHAT_APP_ID}.xml)
install(DIRECTORY ${REGIONCHAT_DESKTOP_DIR}/icons/hicolor
        DESTINATION share/icons)

# Manual pages (docs/man, @VERSION@ filled in) and Debian's documentation files, compressed
# as Debian wants them (gzip -9n: no name, no time stamp, so the package is reproducible).
find_program(REGIONCHAT_GZIP gzip REQUIRED)
set(REGIONCHAT_DOC_OUT ${CMAKE_BINARY_DIR}/docs)
set(VERSION ${PROJECT_VERSION})
set(regionchat_doc_files)
foreach(page regionchat regionchat-cli)
  configure_file(${PROJECT_SOURCE_DIR}/docs/man/${page}.1 ${REGIONCHAT_DOC_OUT}/${page}.1 @ONLY)
  list(APPEND regionchat_doc_files ${REGIONCHAT_DOC_OUT}/${page}.1)
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog ${REGIONCHAT_DOC_OUT}/changelog
               COPYONLY)
list(APPEND regionchat_doc_files ${REGIONCHAT_DOC_OUT}/changelog)
set(regionchat_gz_files)
foreach(f ${regionchat_doc_files})
  add_custom_command(OUTPUT ${f}.gz
                     COMMAND ${REGIONCHAT_GZIP} -9n -c ${f} > ${f}.gz
                     DEPENDS ${f} VERBATIM)
  list(APPEND regionchat_gz_files ${f}.gz)
endforeach()
add_custom_target(regionchat_docs ALL DEPENDS ${regionchat_gz_files})
install(FILES ${REGIONCHAT_DOC_OUT}/regionchat.1.gz ${REGIONCHAT_DOC_OUT}/regionchat-cli.1.gz
        DESTINATION share/man/man1)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright ${REGIONCHAT_DOC_OUT}/changelog.gz
        DESTINATION share/doc/regionchat)

# The Debian package. Depends comes from dpkg-shlibdeps on the installed binaries; the one
# hand-listed entry is Qt's platform plugins (the xcb/wayland plugins the app loads at run
# time, which no binary links). OpenBLAS is recommended: Debian's LibTorch otherwise runs its
# matrix products on the reference BLAS (about 20x slower here).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME regionchat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The RegionChat developers")
set(CPACK_PACKAGE_CONTACT "The RegionChat developers <regionchat@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ask a vision-language model about regions of an image")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "RegionChat is a desktop tool for talking with a region-aware vision-language
model about parts of an image. Mark regions by dragging a box, clicking
points, scribbling or picking a Segment Anything proposal, ask questions, and
watch the answer stream in, with the boxes the model names drawn back on the
image.
.
It runs LLaVA-1.5, DualFocus, Pink, ParGo, RegionVLM, InternVL2 and CoLVA
checkpoints on the CPU with LibTorch, talks to OpenAI-compatible servers (vLLM,
SGLang, llama.cpp, Ollama), inspects benchmark cases one by one, and ships a
small embedded model that works offline. regionchat-cli answers the same
questions in scripts, runs benchmarks and serves a model over HTTP.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/regionchat/regionchat")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-pthread")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
include(CPack)
