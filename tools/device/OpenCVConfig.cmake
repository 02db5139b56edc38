# OpenCV for the GPU machine's build of core/ and the CLI (tools/device/make-devkit.sh):
# Debian bookworm's core and imgproc, and a stand-in imgcodecs.
get_filename_component(_devkit "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(OpenCV_VERSION 4.6.0)
set(OpenCV_INCLUDE_DIRS "${_devkit}/include/opencv4")
set(OpenCV_LIBS)
foreach(_m core imgproc imgcodecs)
  if(NOT TARGET opencv_${_m})
    add_library(opencv_${_m} SHARED IMPORTED)
    set_target_properties(opencv_${_m} PROPERTIES
      IMPORTED_LOCATION "${_devkit}/lib/libopencv_${_m}.so.406"
      INTERFACE_INCLUDE_DIRECTORIES "${_devkit}/include/opencv4")
  endif()
  list(APPEND OpenCV_LIBS opencv_${_m})
endforeach()
set(OpenCV_FOUND TRUE)
