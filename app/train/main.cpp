// regionchat-train: trains the embedded tiny model on synthetic scenes (see MODEL_CARD.md).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>


#include "regionchat/engine.h"
#include "train/shapes_trainer.h"

namespace {

const char* kUsage =
    "usage: regionchat-train --out DIR [--work DIR] [--steps N] [--batch N] [--lr X] [--seed S]\n"
    "                        [--threads N] [--max-minutes M] [--save-every N] [--vocab N]\n"
    "                        [--warmup N] [--aux-weight X] [--curriculum STEPS]\n"
    "                        [--device auto|cpu|cuda|cuda:N] [--data-threads N]\n"
    "                        [--tokenizer tokenizer.model] [--init MODEL_DIR]\n"
    "Trains the tiny region-aware LLaVA on synthetic scenes. Resumes from --work (default\n"
    "DIR.work) when it holds a checkpoint; exports to --out every --save-every steps.\n"
    "--init fine-tunes an exported model (its weights and tokenizer) with a fresh schedule.\n";

bool arg(int argc, char** argv, int& i, const char* name, std::string* value) {
    if (std::strcmp(argv[i], name) != 0) return false;
    if (i + 1 >= argc) {
        std::fprintf(stderr, "regionchat-train: %s needs a value\n", name);
        std::exit(2);
    }
    *value = argv[++i];
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    rc::train::TrainOptions o;
    int threads = 0;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string v;
            if (arg(argc, argv, i, "--out", &v))
                o.out_dir = v;
            else if (arg(argc, argv, i, "--work", &v))
                o.work_dir = v;
            else if (arg(argc, argv, i, "--steps", &v))
                o.steps = std::stoi(v);
            else if (arg(argc, argv, i, "--batch", &v))
                o.batch_size = std::stoi(v);
            else if (arg(argc, argv, i, "--lr", &v))
                o.lr = std::stod(v);
            else if (arg(argc, argv, i, "--seed", &v))
                o.seed = std::stoull(v);
            else if (arg(argc, argv, i, "--threads", &v))
                threads = std::stoi(v);
            else if (arg(argc, argv, i, "--max-minutes", &v))
                o.max_minutes = std::stod(v);
            else if (arg(argc, argv, i, "--save-every", &v))
                o.save_every = std::stoi(v);
            else if (arg(argc, argv, i, "--warmup", &v))
                o.warmup_steps = std::stoi(v);
            else if (arg(argc, argv, i, "--curriculum", &v))
                o.curriculum_steps = std::stoi(v);
            else if (arg(argc, argv, i, "--aux-weight", &v))
                o.aux_weight = std::stod(v);
            else if (arg(argc, argv, i, "--device", &v))
                o.device = v;
            else if (arg(argc, argv, i, "--data-threads", &v))
                o.data_threads = std::stoi(v);
            else if (arg(argc, argv, i, "--init", &v))
                o.init_dir = v;
            else if (arg(argc, argv, i, "--tokenizer", &v))
                o.tokenizer = v;
            else if (arg(argc, argv, i, "--vocab", &v))
                o.vocab_size = std::stoi(v);
            else {
                std::fputs(kUsage, std::strcmp(argv[i], "--help") ? stderr : stdout);
                return std::strcmp(argv[i], "--help") ? 2 : 0;
            }
        }
    } catch (const std::exception&) {
        std::fprintf(stderr, "regionchat-train: bad number\n%s", kUsage);
        return 2;
    }
    if (o.out_dir.empty() || o.steps <= 0 || o.batch_size <= 0 || o.save_every <= 0 ||
        o.data_threads < 0) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (o.work_dir.empty()) o.work_dir = o.out_dir + ".work";
    rc::set_cpu_threads(threads);
    const bool tty = isatty(STDERR_FILENO);
    o.on_progress = [tty](const rc::train::TrainProgress& p) {
        if (!tty && p.step % 20 != 0 && p.step != p.steps) return;
        std::fprintf(
            stderr,
            "%sstep %d/%d  loss %.4f  aux %.3f  lr %.2e  %.1f samples/s  ETA %.0f min  [%s]%s",
            tty ? "\r\033[K" : "", p.step, p.steps, p.loss, p.aux_loss, p.lr, p.samples_per_s,
            p.eta_s / 60.0, p.detail.c_str(), tty ? "" : "\n");
        std::fflush(stderr);
    };
    try {
        rc::train::train_shapes_model(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\nregionchat-train: error: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "\nmodel written to %s\n", o.out_dir.c_str());
    return 0;
}
