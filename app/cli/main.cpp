// regionchat-cli: the runtime from the command line (ask, batch, export-synth, eval-synth, bench).
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/data_paths.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"

namespace {

const char* kUsage =
    "usage:\n"
    "  regionchat-cli ask [--model DIR] --image FILE [--box X0,Y0,X1,Y1]... --question TEXT\n"
    "                     [--points \"X,Y X,Y\"]... [--scribble \"X,Y X,Y ...\"]... [--mask PNG]...\n"
    "                     [--point-seed S]   (models that read regions as points: RegionVLM)\n"
    "                     --image may repeat; a region value ending in @K is on image K\n"
    "                     (CoLVA: regions on both frames become its region tokens)\n"
    "                     [--json] [--max-new-tokens N] [--device auto|cpu|cuda] [--dtype "
    "auto|fp32|fp16|bf16|int8]\n"
    "                     [--threads N] [--temperature T] [--top-p P] [--seed S]\n"
    "                     [--beams N [--length-penalty L]]   beam search instead of sampling\n"
    "                     [--score ANSWER]...   (mean NLL of each candidate answer, in --json)\n"
    "                     [--server URL [--server-model M] [--api-key K] [--region-format F]\n"
    "                      [--server-extra JSON] [--server-scoring none|regionchat|prompt_logprobs]\n"
    "                      [--no-client-resize]]\n"
    "  regionchat-cli batch --input cases.jsonl --output results.jsonl [--model DIR] [same "
    "options]\n"
    "  regionchat-cli export-synth --out DIR [--seed S] [--count N] [--renderer train|alternate]\n"
    "                     [--no-augment]   held-out synthetic scenes + scenes.jsonl, "
    "grounding.jsonl\n"
    "  regionchat-cli eval-synth [--model DIR] [--seed S>=1e9] [--count N] [--renderer "
    "train|alternate]\n"
    "                     [--max-objects N] [--json]          accuracy per task on held-out "
    "scenes, speed medians\n"
    "  regionchat-cli bench --format mme|mmvm|grounding|textvqa|gqa-mcq|seed|mmbench --root DIR\n"
    "                [--model DIR] [--output DIR]\n"
    "                     [--limit N] [--json] [--grounding-prompt TEXT]   run and score a set\n"
    "                     [--single-pass]   (DualFocus' four sets: one answer, not its pipeline)\n"
    "                     [--beams N [--length-penalty L]] [--mme-rule official|pargo]\n"
    "                     [--judge URL [--judge-model M] [--api-key K]]   MMVM: LLM judge for\n"
    "                     answers the kit cannot read (any OpenAI-compatible server; off)\n"
    "  regionchat-cli speed [--model DIR] [--device D] [--dtype T] [--runs N] [--text-tokens N]\n"
    "                     [--new-tokens N] [--second-tokens N] [--json]   encode, prefill, decode,\n"
    "                     second-turn first token (medians) vs bandwidth, peak memory\n"
    "  regionchat-cli serve [--model DIR] [--host H] [--port N] [--api-key K] [--max-queue N]\n"
    "                     [--max-body-mb N] [--max-image-mpx N] [--model-id NAME]\n"
    "                     OpenAI-compatible server\n"
    "  regionchat-cli serve-bench [--model DIR] [--runs N] [--image FILE] [--json]\n"
    "                     time to first token in process and through serve on loopback\n"
    "  regionchat-cli sam-bench [--model SAM_DIR | --random-vit-b] [--runs N] [--device D]\n"
    "                     [--threads N]   Segment Anything encoder and decoder medians\n"
    "  regionchat-cli --version   the version, the LibTorch it runs on, its data folder\n"
    "\n"
    "<region> placeholders in the question are filled, in order, by the --box values, then the\n"
    "--points, --scribble and --mask regions (pixels of the original image), written in the\n"
    "model's region format (RegionVLM: 10 points sampled inside, from --point-seed). --model defaults to the\n"
    "embedded model (or $REGIONCHAT_MODEL).\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    if (command == "--version" || command == "version") {
        std::printf("regionchat-cli %s\n%s\ndata: %s\n", rc::version(),
                    rc::runtime_description().c_str(), rc::data_dir().c_str());
        return 0;
    }
    try {
        if (command == "ask") return rc::cli::run_ask(argc, argv);
        if (command == "batch") return rc::cli::run_batch(argc, argv);
        if (command == "export-synth") return rc::cli::run_export_synth(argc, argv);
        if (command == "eval-synth") return rc::cli::run_eval_synth(argc, argv);
        if (command == "bench") return rc::cli::run_bench(argc, argv);
        if (command == "speed") return rc::cli::run_speed(argc, argv);
        if (command == "sam-bench") return rc::cli::run_sam_bench(argc, argv);
#ifdef REGIONCHAT_HAS_REMOTE
        if (command == "serve") return rc::cli::run_serve(argc, argv);
        if (command == "serve-bench") return rc::cli::run_serve_bench(argc, argv);
#endif
        std::fprintf(stderr, "regionchat-cli: unknown command '%s'\n%s", command.c_str(), kUsage);
        return 2;
    } catch (const rc::cli::UsageError& e) {
        std::fprintf(stderr, "regionchat-cli %s: %s (see regionchat-cli --help)\n", command.c_str(),
                     e.what());
        return 2;
    } catch (const std::exception& e) {
        // rc::Error and anything LibTorch/OpenCV throw: one readable line, no stack.
        std::string msg = e.what();
        if (const size_t nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
        std::fprintf(stderr, "regionchat-cli: error: %s\n", msg.c_str());
        return 1;
    }
}
