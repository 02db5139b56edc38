// tokenizer.model: RegionChat's check (text/spm_model_check.h) on the bytes; what it accepts is
// loaded by SentencePiece itself and encodes and decodes a few strings, so a table the check
// lets through but SentencePiece reads out of bounds shows up here.
#include <string>
#include <string_view>
#include <vector>

#include <sentencepiece_processor.h>

#include "fuzz_file.h"
#include "text/spm_model_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (const std::string p = rc::sentencepiece_model_problem(bytes); !p.empty()) {
        fuzz::refused(p.c_str());
        return 0;
    }
    sentencepiece::SentencePieceProcessor sp;
    if (const auto status = sp.LoadFromSerializedProto(bytes); !status.ok()) {
        fuzz::refused(status.ToString().c_str());
        return 0;
    }
    static const char* const kTexts[] = {"Hello world", "  Größe 日本語 ＡＢＣ ①  ", "\xe2\x80\x8b\t\r\n",
                                         "<s>What is in <region 1>?</s>"};
    for (const char* t : kTexts) {
        std::vector<int> ids;
        if (sp.Encode(t, &ids).ok()) {
            std::string back;
            (void)sp.Decode(ids, &back);
        }
    }
    return 0;
}
