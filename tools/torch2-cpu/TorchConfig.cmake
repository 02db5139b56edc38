# A TorchConfig for building RegionChat's core/ and CLI on the CPU against the LibTorch inside a
# PyPI torch 2.x wheel. Those wheels are CUDA builds whose own TorchConfig needs the CUDA
# Toolkit (not on a CPU machine); this links the CPU half only: libtorch_cpu and libc10 (which
# still need libcudart and libcupti at load time, from the wheel's nvidia-* packages; no GPU is
# used). tools/torch2-cpu/build.sh sets it up; the README's two commands keep Debian's LibTorch.
#
#   cmake -DTorch_DIR=tools/torch2-cpu -DTORCH_WHEEL_ROOT=/path/to/site-packages/torch ...
set(_rc_root "${TORCH_WHEEL_ROOT}")
if(NOT _rc_root OR NOT EXISTS "${_rc_root}/lib/libtorch_cpu.so")
  message(FATAL_ERROR "TORCH_WHEEL_ROOT must name a torch wheel's torch/ folder "
                      "(with lib/libtorch_cpu.so); it is '${_rc_root}'")
endif()
file(STRINGS "${_rc_root}/version.py" _rc_version REGEX "^__version__")
string(REGEX REPLACE "^__version__ = '([0-9.]+).*$" "\\1" Torch_VERSION "${_rc_version}")
if(NOT TARGET torch)
  add_library(torch INTERFACE IMPORTED)
  set_target_properties(torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_rc_root}/include;${_rc_root}/include/torch/csrc/api/include"
    INTERFACE_LINK_LIBRARIES "${_rc_root}/lib/libtorch_cpu.so;${_rc_root}/lib/libc10.so")
endif()
set(TORCH_LIBRARIES torch)
set(TORCH_INCLUDE_DIRS "${_rc_root}/include;${_rc_root}/include/torch/csrc/api/include")
set(TORCH_CXX_FLAGS "")
set(Torch_FOUND TRUE)
