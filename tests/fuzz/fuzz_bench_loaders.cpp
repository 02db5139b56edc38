// Benchmark files: the first byte picks the loader (MMVM's TSV, grounding JSONL, MME's task
// file, TextVQA / GQA / SEED / MMBench files), the rest is that file in a scratch folder.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "fuzz_file.h"
#include "regionchat/bench.h"
#include "regionchat/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const std::string root = fuzz::scratch("bench");
    static bool made = [] {
        for (const char* d : {"", "/Data_json", "/images", "/images/color"})
            mkdir((root + d).c_str(), 0700);
        return true;
    }();
    (void)made;
    struct Target {
        const char* format;
        const char* file;  // where the bytes go, under root
        const char* load;  // what the loader is given, under root ("" = root)
    };
    static const Target kTargets[] = {{"mmvm", "/mllm_match_eval_full.tsv", ""},
                                      {"grounding", "/refs.jsonl", "/refs.jsonl"},
                                      {"mme", "/Data_json/color.txt", ""},
                                      {"textvqa", "/textvqa.jsonl", "/textvqa.jsonl"},
                                      {"gqa-mcq", "/gqa.jsonl", "/gqa.jsonl"},
                                      {"seed", "/seed.json", "/seed.json"},
                                      {"mmbench", "/mmbench.tsv", "/mmbench.tsv"}};
    const Target& t = kTargets[data[0] % (sizeof kTargets / sizeof kTargets[0])];
    FILE* f = std::fopen((root + t.file).c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data + 1, 1, size - 1, f);
    std::fclose(f);
    try {
        const rc::bench::LoadReport r = rc::bench::load_benchmark(t.format, root + t.load);
        (void)r.summary();
    } catch (const rc::Error&) {
    }
    std::remove((root + t.file).c_str());
    return 0;
}
