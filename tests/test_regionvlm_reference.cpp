// Parity with RegionVLM's OWN model code (github jbeomlee93/RegionVLM: lavis/models/eva_vit.py,
// lavis/models/blip2_models/Qformer.py) and transformers 4.33's T5ForConditionalGeneration and
// Blip2ForConditionalGeneration: tests/reference/regionvlm was written by
// tools/reference/regionvlm_reference.py, which built a tiny random RegionVLM in the LAVIS
// stack's layout (model/) and in the HF layout (hf/), ran that code on it in fp32 and recorded
// pixels, ViT/ln_vision output, the Q-Former's rows with and without the point string, T5
// logits and generate()'s greedy and 5-beam ids for region captioning, whole-image VQA and the
// VCR-style prompt. Our loader, preprocessing, network, template, tokenizers and beam search
// must give the same, within 1e-4 in fp32.
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "model/regionvlm/regionvlm.h"
#include "model/regionvlm/regionvlm_config.h"
#include "regionchat/backend.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/image_io.h"
#include "regionchat/point_prompt.h"
#include "regionchat/region_rank.h"
#include "regionchat/safetensors.h"
#include "regionchat/tokenizer.h"
#include "support/read_tensor.h"

using namespace rc;
namespace fs = std::filesystem;

class TestRegionVlmReference : public QObject {
    Q_OBJECT

    fs::path dir_;
    nlohmann::json ref_json_;
    std::shared_ptr<Model> model_, hf_;
    std::unique_ptr<SafetensorsArchive> ref_;
    cv::Mat image_;

    static RegionVlmNetwork& network(Model& m) {
        auto* n = dynamic_cast<RegionVlmNetwork*>(ModelAccess::of(m).network.get());
        if (!n) throw std::logic_error("not a RegionVLM model");
        return *n;
    }
    torch::Tensor ref(const std::string& name) {
        auto t = testing::read_tensor(*ref_, name);
        if (!t.defined()) throw std::logic_error("fixture has no " + name);
        return t;
    }
    static double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
        return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
    }
    static std::vector<int64_t> ids(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }
    std::shared_ptr<Model> load(const std::string& sub) {
        LoadParams p;
        p.model_dir = (dir_ / sub).string();
        p.device.kind = DeviceKind::Cpu;
        p.dtype = Precision::F32;
        return Model::load(p);
    }
    // The decoded text of reference ids (decoder start in front, </s> at the end dropped).
    std::string text_of(const Model& m, const nlohmann::json& j) {
        auto v = ids(j);
        v.erase(v.begin());
        if (!v.empty() && v.back() == m.tokenizer().eos_id()) v.pop_back();
        return m.tokenizer().decode(std::vector<int>(v.begin(), v.end()));
    }
    // Logits of T5 over decoder ids `dec` with the encoder input `enc` [1,S,D].
    static torch::Tensor t5_logits(RegionVlmNetwork& n, const torch::Tensor& enc,
                                   const std::vector<int64_t>& dec) {
        auto& t5 = n.module()->t5_model;
        T5State st;
        t5->start(t5->encode(enc), st);
        auto h = t5->decode(t5->shared(torch::tensor(dec, torch::kInt64).unsqueeze(0)), st);
        return t5->logits(h)[0];
    }
    torch::Tensor embed(RegionVlmNetwork& n, const std::vector<int64_t>& v) {
        return n.embed_tokens(torch::tensor(v, torch::kInt64).unsqueeze(0));
    }

private slots:
    void initTestCase() {
        const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
        QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
        dir_ = fs::path(src) / "tests/reference/regionvlm";
        std::ifstream in(dir_ / "reference.json");
        QVERIFY(in.good());
        in >> ref_json_;
        ref_ = SafetensorsArchive::open((dir_ / "reference.safetensors").string());
        model_ = load("model");
        hf_ = load("hf");
        image_ = load_image(std::string(src) + "/" + ref_json_["image"].get<std::string>());
    }

    // Both layouts load with every parameter found; the ViT file's extra block is reported
    // unused; the plan counts the parameters loading makes.
    void loadsBothLayouts() {
        QCOMPARE(model_->info().family, Family::RegionVlm);
        QCOMPARE(model_->info().layout, std::string(kLayoutRegionVlmLavis));
        QVERIFY(model_->info().reads_region_points);
        bool extra_block = false;
        for (const std::string& w : model_->info().warnings) {
            qInfo("warning: %s", w.c_str());
            if (w.find("eva_vit_g.pth") != std::string::npos && w.find("blocks.2.") != std::string::npos)
                extra_block = true;
        }
        QVERIFY(extra_block);
        QCOMPARE(hf_->info().layout, std::string(kLayoutRegionVlmHf));
        QVERIFY(!hf_->info().reads_region_points);
        for (const auto& m : {model_, hf_}) {
            LoadParams p;
            p.model_dir = m->info().dir;
            p.device.kind = DeviceKind::Cpu;
            p.dtype = Precision::F32;
            QCOMPARE(plan_model(p).parameters, m->info().parameters);
        }
    }

    // Blip2ImageTrainProcessor's pixels; the position table interpolated 16 -> 26 at load;
    // ln_vision(ViT); the Q-Former's BERT ids of the point strings and its rows with and
    // without them; t5_proj.
    void visionAndQFormerEqualRegionVlms() {
        torch::NoGradGuard ng;
        auto& n = network(*model_);
        const auto pixels = regionvlm_pixels(image_, 364);
        const double dp = max_diff(pixels, ref("pixels"));
        const double dpos = max_diff(n.module()->visual_encoder->pos_embed[0], ref("pos_embed"));
        const auto vision = n.module()->image_embeds(ref("pixels").unsqueeze(0));
        const double dv = max_diff(vision[0], ref("vision"));
        QCOMPARE(n.qformer_ids(ref_json_["point_string_1"].get<std::string>()), ids(ref_json_["bert_ids_1"]));
        QCOMPARE(n.qformer_ids(ref_json_["point_string_2"].get<std::string>()), ids(ref_json_["bert_ids_2"]));
        QCOMPARE(n.qformer_ids(""), ids(ref_json_["bert_ids_empty"]));
        QCOMPARE(int64_t(ids(ref_json_["bert_ids_1"]).size()), int64_t(32));  // cut as blip2_t5.py cuts
        const auto q1 = n.module()->query_states(vision, ids(ref_json_["bert_ids_1"]));
        const auto q2 = n.module()->query_states(vision, ids(ref_json_["bert_ids_2"]));
        const auto qf = n.module()->query_states(vision, {});
        const double d1 = max_diff(q1[0], ref("queries_text")), d2 = max_diff(q2[0], ref("queries_text_2"));
        const double dfree = max_diff(qf[0], ref("queries_free"));
        const double dt = max_diff(n.module()->t5_proj(q1)[0], ref("inputs_t5_text"));
        const double dtf = max_diff(n.module()->t5_proj(qf)[0], ref("inputs_t5_free"));
        qInfo("max |diff|: pixels %.3g, pos_embed %.3g, vision %.3g, queries with text %.3g / %.3g, "
              "without %.3g, t5 inputs %.3g / %.3g", dp, dpos, dv, d1, d2, dfree, dt, dtf);
        QVERIFY(dp < 1e-5);
        for (double d : {dpos, dv, d1, d2, dfree, dt, dtf}) QVERIFY(d < 1e-4);
        // The text matters: the rows with and without the point string differ.
        QVERIFY(max_diff(q1, qf) > 1e-2);
        // Through the network's own path (preprocessing from the image, cached ViT rows).
        QVERIFY(max_diff(n.encode_image_with_text(image_, ref_json_["point_string_1"].get<std::string>()),
                         ref("inputs_t5_text")) < 1e-4);
    }

    // T5 over each case's encoder input: the T5 tokenizer's ids of the prompt pieces, and the
    // logits over the decoder ids equal transformers' within 1e-4.
    void t5LogitsEqualTransformers() {
        torch::NoGradGuard ng;
        auto& n = network(*model_);
        const Tokenizer& tok = model_->tokenizer();
        const auto& cases = ref_json_["cases"];
        auto enc_ids = [&](const std::string& text) {
            auto v = tok.encode(text, false);
            std::vector<int64_t> out(v.begin(), v.end());
            out.push_back(tok.eos_id());
            return out;
        };
        QCOMPARE(enc_ids(""), ids(cases["caption"]["t5_ids"]));
        QCOMPARE(enc_ids(cases["vqa"]["prompt"].get<std::string>()), ids(cases["vqa"]["t5_ids"]));
        const auto& pieces = cases["vcr"]["piece_ids"];
        auto no_eos = [&](const std::string& t) {
            auto v = enc_ids(t);
            v.pop_back();
            return v;
        };
        QCOMPARE(no_eos("Let"), ids(pieces[0]));
        QCOMPARE(no_eos("[1] be"), ids(pieces[1]));
        QCOMPARE(no_eos("[2] be"), ids(pieces[2]));
        QCOMPARE(enc_ids(cases["vcr"]["question"].get<std::string>()), ids(pieces[3]));

        const auto r1 = ref("inputs_t5_text").unsqueeze(0), rf = ref("inputs_t5_free").unsqueeze(0);
        const auto r2 = n.module()->t5_proj(n.module()->query_states(
            n.module()->image_embeds(ref("pixels").unsqueeze(0)), ids(ref_json_["bert_ids_2"])));
        struct Case {
            const char* name;
            torch::Tensor enc;
        } all[] = {
            {"caption", torch::cat({r1, embed(n, ids(cases["caption"]["t5_ids"]))}, 1)},
            {"vqa", torch::cat({rf, embed(n, ids(cases["vqa"]["t5_ids"]))}, 1)},
            {"vcr", torch::cat({embed(n, ids(pieces[0])), embed(n, ids(pieces[1])), r1,
                                embed(n, ids(pieces[2])), r2, embed(n, ids(pieces[3]))}, 1)},
        };
        for (const Case& c : all) {
            const auto want = ref(std::string("logits_") + c.name);
            const auto got = t5_logits(n, c.enc, ids(cases[c.name]["logits_for"]));
            const double d = max_diff(got, want);
            qInfo("%s: logits max |diff| %.3g over %lld positions (scale %.3g)", c.name, d,
                  static_cast<long long>(want.size(0)), want.abs().max().item<double>());
            QVERIFY(d < 1e-4);
        }

        // The decoder's self-attention cache: one token at a time into storage reserved once
        // gives the logits of the whole sequence in one call, without the storage moving; a
        // truncated state redoes the rest in one call to the same logits; a clone keeps the
        // capacity and decodes alike.
        const auto dec = ids(cases["caption"]["logits_for"]);
        QVERIFY(dec.size() >= 3);
        const auto whole = t5_logits(n, all[0].enc, dec);
        auto& t5 = n.module()->t5_model;
        T5State st;
        t5->start(t5->encode(all[0].enc), st);
        st.reserve(int64_t(dec.size()));
        std::vector<torch::Tensor> rows;
        const void* storage = nullptr;
        for (size_t i = 0; i < dec.size(); ++i) {
            rows.push_back(t5->logits(t5->decode(embed(n, {dec[i]}), st))[0]);
            if (i == 0) storage = st.self.keys(0).data_ptr();
        }
        QCOMPARE(st.self.keys(0).data_ptr(), storage);
        QCOMPARE(st.self.capacity(), int64_t(dec.size()));
        QCOMPARE(st.length(), int64_t(dec.size()));
        const double stepwise = max_diff(torch::cat(rows, 0), whole);
        qInfo("caption, one token at a time: logits max |diff| %.3g", stepwise);
        QVERIFY(stepwise < 1e-4);
        auto copy = st.clone();
        st.truncate(1);
        const std::vector<int64_t> rest(dec.begin() + 1, dec.end());
        const auto redo = t5->logits(t5->decode(embed(n, rest), st))[0];
        QVERIFY(max_diff(redo, whole.narrow(0, 1, whole.size(0) - 1)) < 1e-4);
        auto& c = static_cast<T5State&>(*copy);
        QCOMPARE(c.length(), int64_t(dec.size()));
        QCOMPARE(c.self.capacity(), int64_t(dec.size()));
        c.truncate(int64_t(dec.size()) - 1);
        const auto last = t5->logits(t5->decode(embed(n, {dec.back()}), c))[0];
        QVERIFY(max_diff(last, whole.narrow(0, whole.size(0) - 1, 1)) < 1e-4);
    }

    // Through the session with RegionVLM's template: the prompt each question picks, and
    // generate()'s greedy and 5-beam outputs (length penalty 1 with 20 tokens; VQA's -1 with 10).
    void sessionAnswersEqualRegionVlms() {
        const auto& cases = ref_json_["cases"];
        const std::string s1 = ref_json_["point_string_1"], s2 = ref_json_["point_string_2"];
        struct Case {
            const char* name;
            std::string question;
            int prompt_positions;
        } all[] = {
            {"caption", "<points 1>" + s1 + "</points>", 32 + 1},
            {"vqa", "what is in the picture?", 32 + int(ids(cases["vqa"]["t5_ids"]).size())},
            {"vcr", "why is <points 1>" + s1 + "</points> looking at <points 2>" + s2 +
                        "</points>? 1. because 2. no 3. yes 4. left", -1},
        };
        for (const Case& c : all) {
            const auto& rc = cases[c.name];
            for (bool beam : {false, true}) {
                Session s(model_);
                GenerateParams g;
                g.max_new_tokens = rc["max_new_tokens"].get<int>();
                g.beams.num_beams = 1;
                if (beam) {
                    g.beams.num_beams = rc["beams"].get<int>();
                    g.beams.length_penalty = rc["length_penalty"].get<double>();
                    g.beams.min_new_tokens = 0;
                }
                const Reply r = s.ask(c.question, {image_}, g);
                const std::string want = text_of(*model_, rc[beam ? "beam" : "greedy"]);
                qInfo("%s %s: '%s' (%d encoder positions)", c.name, beam ? "beam" : "greedy",
                      r.text.c_str(), r.timings.prompt_tokens);
                QCOMPARE(QString::fromStdString(r.text), QString::fromStdString(want));
                if (c.prompt_positions > 0) QCOMPARE(r.timings.prompt_tokens, c.prompt_positions);
            }
            QVERIFY(rc["beam"] != rc["greedy"]);
        }
    }

    // The HF layout (Blip2ForConditionalGeneration): its logits (post_layernorm eps 1e-6) and
    // its 5-beam VQA answer.
    void hfLayoutEqualsTransformers() {
        torch::NoGradGuard ng;
        auto& n = network(*hf_);
        const auto& c = ref_json_["cases"]["hf"];
        const auto vision = n.module()->image_embeds(ref("pixels").unsqueeze(0));
        QVERIFY(max_diff(vision[0], ref("vision_hf")) < 1e-4);
        const auto rows = n.module()->t5_proj(n.module()->query_states(vision, {}));
        const auto enc = torch::cat({rows, embed(n, ids(c["t5_ids"]))}, 1);
        const double d = max_diff(t5_logits(n, enc, ids(c["logits_for"])), ref("logits_hf"));
        qInfo("HF layout logits max |diff| %.3g", d);
        QVERIFY(d < 1e-4);
        Session s(hf_);
        GenerateParams g;
        g.max_new_tokens = 10;
        g.beams.num_beams = 5;
        g.beams.length_penalty = -1.0;
        const Reply r = s.ask("what is in the picture?", {image_}, g);
        QCOMPARE(QString::fromStdString(r.text), QString::fromStdString(text_of(*hf_, c["beam"])));
    }

    // The HF layout's config refuses a zero or negative count with a message naming the key,
    // as the LAVIS layout's does (a Q-Former with 0 heads divided by zero: found by
    // fuzz_configs, tests/fuzz/corpus/fuzz_configs/regress-regionvlm-qformer-heads-zero.json).
    void hfConfigBoundsEachCount() {
        std::ifstream in(dir_ / "hf/config.json");
        nlohmann::json base;
        in >> base;
        const std::string folder = (dir_ / "hf").string();
        QVERIFY(read_regionvlm_config(base, "config.json", folder).qf_heads > 0);
        const std::vector<std::pair<std::string, std::string>> keys = {
            {"qformer_config", "num_attention_heads"}, {"qformer_config", "hidden_size"},
            {"qformer_config", "num_hidden_layers"}, {"qformer_config", "intermediate_size"},
            {"qformer_config", "cross_attention_frequency"}, {"vision_config", "num_attention_heads"},
            {"vision_config", "hidden_size"}, {"vision_config", "num_hidden_layers"},
            {"vision_config", "intermediate_size"}, {"vision_config", "patch_size"}};
        for (const auto& [section, key] : keys)
            for (int bad : {0, -3}) {
                nlohmann::json j = base;
                j[section][key] = bad;
                QString message;
                try {
                    (void)read_regionvlm_config(j, "config.json", folder);
                } catch (const Error& e) {
                    message = e.what();
                }
                QVERIFY2(message.contains(QString::fromStdString(section + "." + key)),
                         qPrintable(QString::fromStdString(section + "." + key + " = ") +
                                    QString::number(bad) + ": " + message));
            }
    }

    // The local backend writes each <region N> as RegionVLM's point string (seeded), and the
    // caption-loss score ranks the region the phrase was made from first.
    void backendWritesPointPrompts() {
        auto backend = make_local_backend(model_);
        QVERIFY(backend->info().capabilities.region_point_prompts);
        ChatRequest req;
        req.images = {image_};
        req.text = "<region 1>";
        RegionInput r;
        r.id = 1;
        r.box = {150, 60, 420, 300};
        req.regions = {r};
        req.point_seed = 5;
        const std::string q = backend->render_question(req);
        QVERIFY2(q.rfind("<points 1>[", 0) == 0 && q.find("</points>") != std::string::npos, q.c_str());
        QCOMPARE(backend->render_question(req), q);  // the same seed, the same points
        req.point_seed = 6;
        QVERIFY(backend->render_question(req) != q);
        GenerateParams g;
        g.max_new_tokens = 3;
        const Reply rep = backend->ask(req, g);  // the model's decoding: 5 beams
        QCOMPARE(rep.timings.prompt_tokens, 33);  // 32 region rows + </s>: captioning
        // Scoring: the mean NLL of an answer + </s> under the decoder.
        const double nll = backend->score(req, rep.text);
        QVERIFY(std::isfinite(nll) && nll > 0);
    }

    // "Which region is this?": eval_RIS.py's candidate filter (area >= 4%, not hugging a
    // border; >= 1% when none pass), its text processor, and the ranking: each candidate's
    // loss is the best of its draws, each draw the backend's caption-loss score of the phrase.
    void whichRegionRanksByCaptionLoss() {
        const ImageSize size{image_.cols, image_.rows};
        auto box = [](double x0, double y0, double x1, double y1) {
            RegionInput r;
            r.box = {x0, y0, x1, y1};
            return r;
        };
        const std::vector<RegionInput> c = {
            box(150, 60, 420, 300),              // 0: large
            box(10, 10, 30, 30),                 // 1: under 4%: dropped
            box(0, 0, double(size.width), 40),   // 2: hugs the top border: dropped
            box(40, 330, 300, 520),              // 3: large
        };
        QCOMPARE(ris_candidates(c, size), (std::vector<size_t>{0, 3}));
        QCOMPARE(ris_candidates({c[1]}, size), std::vector<size_t>{});
        QCOMPARE(ris_candidates({box(10, 10, 70, 70)}, size), std::vector<size_t>{0});  // 1.4%: >= 1%
        QCOMPARE(blip_caption("  The MAN (left);  holding a cup!! "), std::string("the man left holding a cup"));
        auto backend = make_local_backend(model_);
        RegionRankOptions o;
        o.repeats = 3;
        o.seed = 11;
        size_t calls = 0;
        o.progress = [&](size_t done, size_t total) {
            ++calls;
            return done <= total;
        };
        const auto ranks = rank_regions(*backend, image_, c, "a man holding a cup", o);
        QCOMPARE(ranks.size(), size_t(2));
        QCOMPARE(calls, size_t(6));
        QVERIFY(ranks[0].loss <= ranks[1].loss);
        for (const auto& r : ranks) {
            QCOMPARE(r.draws.size(), size_t(3));
            QCOMPARE(r.loss, *std::min_element(r.draws.begin(), r.draws.end()));
        }
        // One draw by hand: the same request through the backend's score.
        ChatRequest req;
        req.text = "<region 1>";
        req.images = {image_};
        RegionInput r = c[ranks[0].index];
        r.id = 1;
        req.regions = {r};
        req.point_seed = 11 + 7919;
        QCOMPARE(backend->fresh()->score(req, "a man holding a cup"), ranks[0].draws[1]);
        QCOMPARE(rank_regions(*backend, image_, c, "a man holding a cup", o)[0].draws, ranks[0].draws);
        // A model that reads no points refuses, saying why.
        bool refused = false;
        try {
            rank_regions(*make_local_backend(hf_), image_, c, "x", o);
        } catch (const Error& e) {
            refused = std::string(e.what()).find("points") != std::string::npos;
        }
        QVERIFY(refused);
    }
};

QTEST_GUILESS_MAIN(TestRegionVlmReference)
#include "test_regionvlm_reference.moc"
