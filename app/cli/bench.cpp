// regionchat-cli bench: runs a whole MME, MMVM, grounding, TextVQA, GQA-MCQ, SEED or MMBench set
// with one model load, writes per-case results (MME: the published per-task files) and prints
// the score table.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "regionchat/bench_run.h"
#include "regionchat/error.h"
#ifdef REGIONCHAT_HAS_REMOTE
#include "regionchat/remote.h"
#endif

namespace rc::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json result_json(const bench::CaseResult& r, double ms) {
    const auto& c = r.bench_case;
    json j{{"id", c.id},
           {"task", c.task},
           {"source", c.source},
           {"question", c.question},
           {"answer", c.answer},
           {"prediction", r.prediction},
           {"correct", bench::case_correct(r)},
           {"ms", ms}};
    if (c.has_box) j["box"] = {c.box.x0, c.box.y0, c.box.x1, c.box.y1};
    if (bench::is_dualfocus_format(c.format)) {
        // What the published pipeline scores (the letter, GQA's option text) and its score.
        if (c.format != "textvqa")
            j["scored_answer"] = bench::dualfocus_scored_answer(c, r.prediction);
        j["score"] = bench::dualfocus_case_score(c, r.prediction);
        if (c.circular_group >= 0) j["circular_group"] = c.circular_group;
    }
    if (r.has_pred_box)
        j["pred_box"] = {r.pred_box.x0, r.pred_box.y0, r.pred_box.x1, r.pred_box.y1};
    if (c.format == "mmvm") {
        j["letter"] = bench::mmvm_result_letter(r);
        if (!r.judged_by.empty()) j["judged_by"] = r.judged_by;
        j["match_type"] = c.cue_types;
    }
    if (!r.note.empty()) j["note"] = r.note;
    if (r.dual_focus)
        j["dual_focus"] = {{"macro", r.macro_answer},
                           {"micro", r.micro_answer},
                           {"decided_by", r.decided_by}};
    return j;
}

// The scores.json fields of DualFocus' four benchmarks.
void add_dualfocus_scores(const std::string& format, const std::vector<bench::CaseResult>& results,
                          json* summary) {
    json& j = *summary;
    if (format == "textvqa") {
        j["accuracy"] = bench::score_textvqa(results).accuracy;
    } else if (format == "gqa-mcq") {
        const auto s = bench::score_gqa_mcq(results);
        j["accuracy"] = s.accuracy;
        j["correct"] = s.correct;
    } else if (format == "seed") {
        const auto s = bench::score_seed(results);
        j["accuracy"] = s.accuracy;
        for (const auto& [id, t] : s.per_type)
            j["per_type"][std::get<0>(t)] = {{"question_type_id", id},
                                             {"correct", std::get<1>(t)},
                                             {"total", std::get<2>(t)}};
    } else if (format == "mmbench") {
        const auto s = bench::score_mmbench(results);
        j["circular"] = s.circular;
        j["circular_questions"] = s.groups;
        j["vanilla"] = s.vanilla;
        j["per_row"] = s.per_row;
        for (const auto& [name, ct] : s.per_category)
            j["per_category"][name] = {{"correct", ct.first}, {"total", ct.second}};
    }
}

}  // namespace

int run_bench(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {"format", "root", "model", "output", "limit", "max-new-tokens",
                                  "device", "dtype", "threads", "grounding-prompt", "beams",
                                  "length-penalty", "mme-rule", "judge", "judge-model",
                                  "api-key"},
                                 {"json", "single-pass"});
    const std::string format = args.require("format");
    if (format != "mme" && format != "mmvm" && format != "grounding" &&
        !bench::is_dualfocus_format(format))
        throw UsageError(
            "--format must be mme, mmvm, grounding, textvqa, gqa-mcq, seed or mmbench");
    const std::string root = args.require("root");
    const int limit = args.get_int("limit", 0, 0, 100'000'000);

    bench::LoadReport report = bench::load_benchmark(format, root);
    if (!report.skipped.empty()) std::fprintf(stderr, "%s\n", report.summary().c_str());
    if (report.cases.empty()) throw Error(root + ": no " + format + " cases found");
    if (limit > 0 && report.cases.size() > static_cast<size_t>(limit)) report.cases.resize(limit);

    fs::path out_dir;
    std::ofstream results_file;
    if (args.has("output")) {
        out_dir = args.get("output");
        fs::create_directories(out_dir);
        results_file.open(out_dir / "results.jsonl");
        if (!results_file) throw Error((out_dir / "results.jsonl").string() + ": cannot write");
    }

    auto model = load_model(args);
    bench::RunOptions ro;
    // DualFocus' scripts generate up to 128 tokens per pass.
    ro.generate.max_new_tokens =
        args.get_int("max-new-tokens", bench::is_dualfocus_format(format) ? 128 : 64, 1, 4096);
    ro.dual_focus = !args.flags.count("single-pass");
    // --beams N: beam search (ParGo's published MME setting is 4 beams, 100 tokens).
    ro.generate.beams.num_beams = args.get_int("beams", 0, 1, 16);  // 0: the model's
    ro.generate.beams.length_penalty = args.get_double("length-penalty", 1.0, -10.0, 10.0);
    // --mme-rule pargo: ParGo's calculation_mme.py (first 20 characters) instead of MME's own.
    const bench::MmeRule mme_rule = bench::mme_rule_from_string(args.get("mme-rule", "official"));
    if (args.has("grounding-prompt")) ro.grounding_prompt = args.get("grounding-prompt");
    // --judge URL: MMVMEvalKit's LLM judge for answers its can_infer cannot read, on any
    // OpenAI-compatible server (off by default: such answers count as wrong, the kit's
    // exact_matching).
    std::unique_ptr<ChatBackend> judge;
    if (args.has("judge")) {
        if (format != "mmvm") throw UsageError("--judge applies to --format mmvm only");
#ifdef REGIONCHAT_HAS_REMOTE
        RemoteOptions o;
        o.url = args.get("judge");
        o.model = args.get("judge-model", "");
        o.api_key = api_key_from_args(args);
        judge = make_remote_backend(o);
        ro.judge = judge.get();
#else
        throw UsageError("--judge: this build has no remote backend (cpp-httplib not found)");
#endif
    }

    const bool tty = isatty(STDERR_FILENO);
    const size_t n = report.cases.size();
    std::vector<bench::CaseResult> results;
    std::vector<std::string> failed;
    const double t_start = now_ms();
    for (size_t i = 0; i < n; ++i) {
        const auto& c = report.cases[i];
        const double t0 = now_ms();
        try {
            bench::CaseResult r = bench::run_case(model, c, ro);
            // One complete line per case, flushed: a run killed mid-benchmark leaves whole lines.
            if (results_file)
                results_file << (result_json(r, now_ms() - t0).dump() + "\n") << std::flush;
            results.push_back(std::move(r));
        } catch (const std::exception& e) {
            failed.push_back(c.source + ": " + e.what());
            std::fprintf(stderr, "%s%s: %s; skipped\n", tty ? "\r\033[K" : "", c.source.c_str(),
                         e.what());
        }
        print_progress(i + 1, n, t_start, tty);
    }
    if (!failed.empty()) {
        std::fprintf(stderr, "%zu case(s) failed:", failed.size());
        for (size_t i = 0; i < failed.size() && i < 10; ++i)
            std::fprintf(stderr, "%s %s", i ? ";" : "", failed[i].c_str());
        std::fprintf(stderr, "%s\n", failed.size() > 10 ? "; ..." : "");
    }

    std::string table;
    json summary{{"format", format},
                 {"root", root},
                 {"model", model->info().dir},
                 {"cases", n},
                 {"answered", results.size()},
                 {"skipped_lines", report.skipped.size()},
                 {"seconds", (now_ms() - t_start) / 1000.0}};
    if (format == "mme") {
        const auto s = bench::score_mme(results, mme_rule);
        table = bench::score_table(s);
        summary["mme_rule"] = args.get("mme-rule", "official");
        summary["perception"] = s.perception;
        summary["cognition"] = s.cognition;
        for (const auto& t : s.tasks)
            summary["tasks"][t.task] = {
                {"acc", t.acc}, {"acc_plus", t.acc_plus}, {"score", t.score}};
        if (!out_dir.empty()) bench::write_mme_results((out_dir / "mme").string(), results);
    } else if (format == "mmvm") {
        const auto s = bench::score_mmvm(results);
        table = bench::score_table(s);
        summary["overall"] = s.overall;
        for (const auto& [cue, ct] : s.per_cue) {
            summary["per_cue"][bench::mmvm_cue_name(cue)] = s.cue_accuracy(cue);
            summary["per_cue_counts"][bench::mmvm_cue_name(cue)] = {{"correct", ct.first},
                                                                    {"total", ct.second}};
        }
        // Whether an LLM judge read any answer (the kit's results depend on it).
        int judged = 0, random = 0;
        for (const auto& r : results) {
            judged += r.judged_by == "judge";
            random += r.judged_by == "random";
        }
        summary["judge"] = args.has("judge") ? json{{"url", args.get("judge")},
                                                    {"model", args.get("judge-model", "")},
                                                    {"answers_judged", judged},
                                                    {"random_picks", random}}
                                             : json("none (exact matching)");
        if (model->info().reads_region_tokens)
            summary["prompt"] = "CoLVA (MMVMEvalKit internvl_matcher: region tokens)";
    } else if (bench::is_dualfocus_format(format)) {
        table = bench::dualfocus_score_table(format, results);
        add_dualfocus_scores(format, results, &summary);
    } else {
        const auto s = bench::score_grounding(results);
        table = bench::score_table(s);
        summary["acc_at_05"] = s.acc_at_05;
        summary["mean_iou"] = s.mean_iou;
    }
    if (!out_dir.empty()) {
        // Replaced whole (a run killed here leaves the previous scores, never half of them).
        std::string why;
        if (!bench::write_file_atomically((out_dir / "scores.json").string(), summary.dump(2) + "\n",
                                          &why) ||
            !bench::write_file_atomically((out_dir / "scores.md").string(), table, &why))
            throw Error(why);
    }
    if (args.flags.count("json"))
        std::printf("%s\n", summary.dump(2).c_str());
    else
        std::printf("%s", table.c_str());
    return results.empty() ? 1 : 0;
}

}  // namespace rc::cli
