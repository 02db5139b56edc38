"""A GGUF written by make_gguf.py (F32) in another llama.cpp type, with llama.cpp's own
quantiser (llama_model_quantize through llama-cpp-python).

    python quantize_gguf.py IN_F32.gguf OUT.gguf bf16|f16|q8_0
"""
import ctypes
import sys

import llama_cpp

TYPES = {"f16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16, "bf16": llama_cpp.LLAMA_FTYPE_MOSTLY_BF16,
         "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in TYPES:
        raise SystemExit(__doc__)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TYPES[sys.argv[3]]
    rc = llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(),
                                        ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize returned {rc}")
    print(f"wrote {sys.argv[2]} ({sys.argv[3]})")


if __name__ == "__main__":
    main()
