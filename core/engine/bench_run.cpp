// Answering one benchmark case with the engine (the LibTorch half of regionchat/bench_run.h).
#include "regionchat/bench_run.h"

#include <functional>
#include <random>

#include "regionchat/dual_focus.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"

namespace rc::bench {

namespace {

// The option letters of MMVM's choices ("A. 1\nB. 2\n..."), as the kit's choices dict keys.
std::vector<std::string> split_choice_letters(const std::string& choices) {
    std::vector<std::string> out;
    size_t from = 0;
    while (from <= choices.size()) {
        size_t end = choices.find('\n', from);
        if (end == std::string::npos) end = choices.size();
        const std::string line = choices.substr(from, end - from);
        const size_t dot = line.find('.');
        if (dot != std::string::npos) {
            std::string k = line.substr(0, dot);
            k.erase(0, k.find_first_not_of(" \t\r"));
            k.erase(k.find_last_not_of(" \t\r") + 1);
            if (!k.empty()) out.push_back(k);
        }
        from = end + 1;
    }
    return out;
}

}  // namespace

std::string clean_answer(const ModelInfo& info, std::string text) {
    auto trim = [](std::string s) {
        const char* ws = " \t\r\n";
        const size_t a = s.find_first_not_of(ws);
        if (a == std::string::npos) return std::string();
        return s.substr(a, s.find_last_not_of(ws) - a + 1);
    };
    if (info.answer_after.empty() && info.answer_before.empty()) return text;
    if (!info.answer_after.empty()) {
        const size_t at = text.rfind(info.answer_after);
        if (at != std::string::npos) text = text.substr(at + info.answer_after.size());
        text = trim(text);
    }
    if (!info.answer_before.empty()) {
        const size_t at = text.find(info.answer_before);
        if (at != std::string::npos) text.resize(at);
        text = trim(text);
    }
    return text;
}

void judge_mmvm(const RunOptions& options, CaseResult* r) {
    const BenchCase& c = r->bench_case;
    if (!options.judge || !mmvm_parse_letter(r->prediction, c.choices).empty()) return;
    // multiple_choice.py extract_answer_from_item: up to 3 tries, each read with can_infer;
    // then a random letter of the choices or Z (seeded by the case, so reruns agree).
    const std::string prompt = mmvm_judge_prompt(c, r->prediction);
    for (int attempt = 0; attempt < 3; ++attempt) {
        options.judge->reset();
        ChatRequest q;
        q.text = prompt;
        GenerateParams g;
        g.max_new_tokens = 16;  // one letter; the kit's judge runs at temperature 0
        try {
            const std::string letter = mmvm_parse_letter(options.judge->ask(q, g).text, c.choices);
            if (!letter.empty()) {
                r->judged_letter = letter;
                r->judged_by = "judge";
                return;
            }
        } catch (const std::exception& e) {
            r->note += std::string(r->note.empty() ? "" : "; ") + "judge: " + e.what();
        }
    }
    std::vector<std::string> letters;
    for (const std::string& line : split_choice_letters(c.choices)) letters.push_back(line);
    letters.push_back("Z");
    std::mt19937 rng(uint32_t(std::hash<std::string>{}(c.id)));
    r->judged_letter = letters[rng() % letters.size()];
    r->judged_by = "random";
}

CaseResult run_case(const std::shared_ptr<Model>& model, const BenchCase& c,
                    const RunOptions& options) {
    if (c.images.empty()) throw Error(c.id + ": the case has no image");
    std::vector<cv::Mat> images;
    for (const auto& path : c.images) images.push_back(load_image(path));
    CaseResult r;
    r.bench_case = c;
    if (options.dual_focus && is_dualfocus_format(c.format)) {
        DualFocusParams params;
        params.generate = options.generate;
        params.question = dualfocus_question(c);
        const DualFocusResult d = run_dual_focus(model, images.front(), case_prompt(c), params);
        r.prediction = d.answer;
        r.dual_focus = true;
        r.macro_answer = d.macro_answer;
        r.micro_answer = d.micro_answer;
        r.decided_by = d.decided_by;
        return r;
    }
    if (c.format == "mmvm" && model->info().reads_region_tokens) {
        // CoLVA: the kit's prompt with one region token per object, read off the raw frames.
        std::vector<cv::Mat> originals;
        for (const auto& path : c.original_images) originals.push_back(load_image(path));
        if (originals.size() != images.size()) {
            originals = images;
            r.note = "no FRAME0x_ORI images: the region tokens read the drawn frames";
        }
        auto backend = make_local_backend(model);
        const Reply reply =
            backend->ask(mmvm_region_token_request(c, images, originals), options.generate);
        r.prediction = clean_answer(model->info(), reply.text);
        judge_mmvm(options, &r);
        return r;
    }
    Session session(model);
    std::string prompt = case_prompt(c, options);
    // A template that asks for one word itself (ParGo's) gets MME's questions without their
    // "Please answer yes or no.", as ParGo's MME data has them (README of bytedance/ParGo).
    if (model->info().template_asks_yes_no && c.format == "mme") {
        static const std::string kSuffix = "Please answer yes or no.";
        const size_t at = prompt.rfind(kSuffix);
        if (at != std::string::npos && at + kSuffix.size() == prompt.size()) {
            prompt.erase(at);
            while (!prompt.empty() && prompt.back() == ' ') prompt.pop_back();
            prompt += ' ';  // ParGo's questions keep the space before the removed sentence
        }
    }
    const Reply reply = session.ask(prompt, images, options.generate);
    r.prediction = clean_answer(model->info(), reply.text);
    if (c.format == "mmvm") judge_mmvm(options, &r);
    if (!reply.boxes.empty()) {
        r.has_pred_box = true;
        r.pred_box = reply.boxes.front().box;
    }
    return r;
}

}  // namespace rc::bench
