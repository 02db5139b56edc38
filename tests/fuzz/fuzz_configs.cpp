// config.json of every family. The input is split at NUL bytes (JSON has none): the first part
// is <dir>/config.json, the second a/config.json (also a/tokenizer_config.json), the third
// b/config.json; a config naming folders "a" and "b" (ParGo's llm_model and bert_type,
// RegionVLM's t5_model and bert_model, Pink's clip_path, CoLVA's model_path and radio_path)
// reads hostile bytes there too, and "w.pth" exists for configs that name weight files. The
// first byte picks the reader. Every refusal must be an rc::Error; anything else escaping is a
// finding.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "fuzz_file.h"
#include "io/config_reader.h"
#include "model/colva/colva_config.h"
#include "model/llava/llava_config.h"
#include "model/pargo/pargo_config.h"
#include "model/pink/pink.h"
#include "model/regionvlm/regionvlm_config.h"
#include "regionchat/chat_template.h"
#include "regionchat/config.h"
#include "regionchat/region_format.h"
#include "regionchat/error.h"

// The registry (LibTorch code) adds its families' names to the built-in ones; the configs read
// here only need to tell known names from unknown ones.
namespace rc {
std::vector<std::string> known_chat_templates() {
    auto names = builtin_chat_templates();
    names.insert(names.end(), {"pink", "pargo", "regionvlm", "phi3-chat"});  // the families'
    return names;
}
std::vector<std::string> known_region_formats() {
    auto names = builtin_region_formats();
    names.push_back("pink");
    return names;
}
}  // namespace rc

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const int which = data[0] % 8;
    ++data, --size;
    static const std::string dir = fuzz::scratch("config");
    static const bool made = [] {
        mkdir(dir.c_str(), 0700);
        mkdir((dir + "/a").c_str(), 0700);
        mkdir((dir + "/b").c_str(), 0700);
        fuzz::put(dir + "/w.pth", nullptr, 0);
        static const char kVocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n##b\n";
        fuzz::put(dir + "/b/vocab.txt", kVocab, sizeof kVocab - 1);
        return true;
    }();
    (void)made;
    const std::string file = dir + "/config.json";
    const char* names[] = {"/config.json", "/a/config.json", "/b/config.json"};
    size_t from = 0;
    for (int part = 0; part < 3; ++part) {
        size_t end = from;
        while (end < size && data[end] != 0) ++end;
        fuzz::put(dir + names[part], data + from, end - from);
        if (part == 1) fuzz::put(dir + "/a/tokenizer_config.json", data + from, end - from);
        if (part == 0) fuzz::put(dir + "/preprocessor_config.json", data + from, end - from);
        from = end < size ? end + 1 : size;
    }
    const size_t first = std::find(data, data + size, 0) - data;
    try {
        if (which == 5) {
            (void)rc::parse_sam_config(std::string(reinterpret_cast<const char*>(data), first), file);
            return 0;
        }
        if (which == 6) {
            (void)rc::read_tokenizer_files(dir + "/a");
            (void)rc::cfg::tokenizer_legacy(dir + "/a");
            return 0;
        }
        const auto root = rc::cfg::parse_json_object(rc::cfg::read_config_text(file), file);
        switch (which) {
            case 0: (void)rc::read_llava_config(root, file); break;
            case 1: (void)rc::read_pink_config(root, file); break;
            case 2: (void)rc::read_pargo_config(root, file, dir); break;
            case 3: (void)rc::read_regionvlm_config(root, file, dir); break;
            case 4: (void)rc::read_colva_config(root, file, dir); break;
            default: {
                rc::ModelConfig c;
                rc::cfg::read_image_processor(dir, &c);
                break;
            }
        }
    } catch (const rc::Error& e) {
        fuzz::refused(e.what());
    }
    return 0;
}
