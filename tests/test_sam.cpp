// Segment Anything: parity with transformers' SamModel (tests/reference/sam-tiny, written by
// tests/reference/make_reference.py), a random SAM with sam-vit-base's real sizes answering
// point and box prompts, batched decoding equal to one-by-one, "segment everything", and
// clear errors for broken checkpoints and configs.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <opencv2/imgproc.hpp>

#include "model/sam/sam_image.h"
#include "model/sam/sam_net.h"
#include "model/tensor_io.h"
#include "regionchat/config.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"
#include "regionchat/sam.h"
#include "support/read_tensor.h"

using namespace rc;
namespace fs = std::filesystem;

namespace {

using testing::read_tensor;

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// A test image: a light background with a dark disc and a mid-grey square.
cv::Mat scene(int w, int h) {
    cv::Mat m(h, w, CV_8UC3, cv::Scalar(230, 225, 220));
    cv::circle(m, {w / 3, h / 2}, std::min(w, h) / 5, cv::Scalar(40, 40, 200), cv::FILLED);
    cv::rectangle(m, cv::Rect(2 * w / 3 - w / 10, h / 4, w / 5, h / 3), cv::Scalar(90, 160, 60),
                  cv::FILLED);
    return m;
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

}  // namespace

class TestSam : public QObject {
    Q_OBJECT

    fs::path fixture_;

    // The fixture's SamNet with its weights loaded under their own names; the names of tensors
    // left unused go to *unused.
    sam::SamNet fixtureNet(const SamConfig& c, std::vector<std::string>* unused) const {
        sam::SamNet net(c);
        net->eval();
        auto weights = SafetensorsArchive::open((fixture_ / "model.safetensors").string());
        *unused = load_state(*net, *weights, [](const std::string& n) {
                      return std::vector<std::string>{n};
                  }).unused;
        return net;
    }
    QTemporaryDir tmp_;

    // A copy of the fixture whose model.safetensors `edit` changed (tensor bytes are copied
    // into `data` first so the edit may resize them).
    struct Tensor {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        std::vector<uint8_t> data;
    };
    fs::path edited_copy(const std::string& name,
                         const std::function<void(std::vector<Tensor>&)>& edit) {
        const fs::path dir = fs::path(tmp_.path().toStdString()) / name;
        fs::create_directories(dir);
        fs::copy_file(fixture_ / "config.json", dir / "config.json",
                      fs::copy_options::overwrite_existing);
        std::vector<Tensor> tensors;
        {
            auto archive = SafetensorsArchive::open((fixture_ / "model.safetensors").string());
            for (const auto& n : archive->names()) {
                const TensorView* v = archive->find(n);
                tensors.push_back({n, v->dtype,
                                   std::vector<int64_t>(v->shape.begin(), v->shape.end()),
                                   std::vector<uint8_t>(v->data, v->data + v->nbytes)});
            }
        }
        edit(tensors);
        std::vector<TensorToWrite> out;
        for (const auto& t : tensors)
            out.push_back({t.name, t.dtype, t.shape, t.data.data(), t.data.size()});
        write_safetensors((dir / "model.safetensors").string(), out);
        return dir;
    }

private slots:
    void initTestCase() {
        const char* src = std::getenv("REGIONCHAT_SOURCE_DIR");
        QVERIFY2(src, "REGIONCHAT_SOURCE_DIR is not set (run through CTest)");
        fixture_ = fs::path(src) / "tests/reference/sam-tiny";
        QVERIFY(fs::exists(fixture_ / "reference.safetensors"));
        QVERIFY(tmp_.isValid());
        torch::manual_seed(0);
    }

    void matchesTransformers() {
        torch::NoGradGuard ng;
        const SamConfig c = load_sam_config(fixture_.string());
        QCOMPARE(c.vision_hidden, 32);
        QCOMPARE(c.window_size, 4);
        std::vector<std::string> unused;
        sam::SamNet net = fixtureNet(c, &unused);
        QVERIFY2(unused.empty(), unused.empty() ? "" : unused[0].c_str());
        auto ref = SafetensorsArchive::open((fixture_ / "reference.safetensors").string());

        const auto emb = net->vision_encoder->forward(read_tensor(*ref, "pixel_values"));
        const auto want_emb = read_tensor(*ref, "image_embeddings", torch::kFloat32);
        QCOMPARE(emb.sizes().vec(), want_emb.sizes().vec());
        const double d_emb = rel_diff(emb, want_emb);
        qInfo("image embeddings: max difference %.2e of the largest value", d_emb);
        QVERIFY(d_emb < 1e-4);

        const auto out = net->decode(want_emb, read_tensor(*ref, "input_points", torch::kFloat32),
                                     read_tensor(*ref, "input_labels", torch::kInt64), {}, true);
        const auto want_masks = read_tensor(*ref, "pred_masks", torch::kFloat32);
        const auto want_iou = read_tensor(*ref, "iou_scores", torch::kFloat32);
        QCOMPARE(out.masks.sizes().vec(), want_masks.sizes().vec());
        const double d_mask = rel_diff(out.masks, want_masks);
        const double d_iou = rel_diff(out.iou, want_iou);
        qInfo("mask logits: %.2e, IoU scores: %.2e", d_mask, d_iou);
        QVERIFY(d_mask < 1e-4);
        QVERIFY(d_iou < 1e-4);
    }

    void blockedAttentionEqualsDirect() {
        // 40 x 40 tokens: more scores than one block holds, so the encoder's attention runs in
        // blocks of query rows and its MLP in slices of tokens; compare with the direct
        // formula (softmax(q k^T / sqrt(d) + rel_h + rel_w) v) on the whole matrix.
        torch::NoGradGuard ng;
        SamConfig c;
        c.vision_hidden = 16;
        c.vision_heads = 2;
        c.vision_mlp = 2048;
        c.image_size = 320;
        c.patch_size = 8;
        const int64_t side = 40, N = side * side, heads = 2, d = 8;
        sam::VisionLayer layer(c, /*window=*/0);
        for (auto& p : layer->parameters()) p.uniform_(-0.5, 0.5);
        const auto x = torch::randn({1, side, side, 16});
        auto& attn = layer->attn;
        const auto h = layer->layer_norm1(x);
        const auto qkv = attn->qkv(h).view({N, 3, heads, d}).permute({1, 2, 0, 3});  // [3,h,N,d]
        const auto q = qkv[0], k = qkv[1], v = qkv[2];
        // rel_h[i, j] = q_i . rel_pos_h[row(i) - row(j) + side - 1] (the same with columns)
        const auto pos = torch::arange(side);
        const auto offset = (pos.unsqueeze(1) - pos.unsqueeze(0) + side - 1);  // [side, side]
        const auto Rh = attn->rel_pos_h.index({offset});                       // [side, side, d]
        const auto Rw = attn->rel_pos_w.index({offset});
        const auto qg = q.view({heads, side, side, d});
        const auto rh = (qg.unsqueeze(3) * Rh.view({1, side, 1, side, d})).sum(-1);  // [h,r,c,r']
        const auto rw = (qg.unsqueeze(3) * Rw.view({1, 1, side, side, d})).sum(-1);  // [h,r,c,c']
        auto scores = torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(d));
        scores = scores.view({heads, side, side, side, side}) + rh.unsqueeze(4) + rw.unsqueeze(3);
        const auto probs = torch::softmax(scores.view({heads, N, N}), -1);
        const auto mixed = torch::matmul(probs, v).permute({1, 0, 2}).reshape({1, side, side, 16});
        auto want = x + attn->proj(mixed);
        want = want + layer->mlp(layer->layer_norm2(want));
        const auto got = layer->forward(x);
        const double diff = rel_diff(got, want);
        qInfo("blocked vs direct attention: %.2e", diff);
        QVERIFY(diff < 1e-5);
    }

    void preprocessingAsTransformers() {
        // Longest side to S, the other rounded: 300x200 -> 64x43 (200 * 64 / 300 = 42.67).
        QCOMPARE(sam::resized_size({300, 200}, 64), cv::Size(64, 43));
        QCOMPARE(sam::resized_size({10, 4000}, 1024), cv::Size(3, 1024));
        // A flat colour: every resized pixel normalized with ImageNet's mean and std, RGB
        // order, the padding 0.
        const cv::Mat flat(200, 300, CV_8UC3, cv::Scalar(10, 128, 250));  // BGR
        const auto t = sam::preprocess(flat, 64);
        QCOMPARE(t.sizes().vec(), (std::vector<int64_t>{1, 3, 64, 64}));
        const float want_r = (250 / 255.f - 0.485f) / 0.229f;
        const float want_b = (10 / 255.f - 0.406f) / 0.225f;
        QVERIFY(std::abs(t[0][0][42][63].item<float>() - want_r) < 1e-5);
        QVERIFY(std::abs(t[0][2][0][0].item<float>() - want_b) < 1e-5);
        QCOMPARE(t[0][0][43][0].item<float>(), 0.f);  // padding rows below the image
        QCOMPARE(t.slice(2, 43).abs().max().item<float>(), 0.f);
        // Shrinking 4x filters as PIL's bilinear does: a one-pixel checkerboard becomes an even
        // grey (plain bilinear sampling would alias it to black and white).
        cv::Mat checker(256, 256, CV_8UC3);
        for (int y = 0; y < 256; ++y)
            for (int x = 0; x < 256; ++x)
                checker.at<cv::Vec3b>(y, x) = cv::Vec3b::all((x + y) % 2 ? 255 : 0);
        const auto grey = sam::preprocess(checker, 64)[0][1];  // green channel
        const float mid = (128 / 255.f - 0.456f) / 0.224f;
        const auto inner = grey.slice(0, 2, 62).slice(1, 2, 62);
        QVERIFY2((inner - mid).abs().max().item<float>() < 0.03f,
                 qPrintable(QString::number((inner - mid).abs().max().item<float>())));
    }

    void masksAndScoresFromLogits() {
        // Low-res logits 16x16 for a 64 frame: positive in columns 0..7 (x < 32 of the 64
        // frame), a 300x200 image resized to 64x43: the mask is x < 150 of the original.
        auto logits = torch::full({2, 16, 16}, -5.f);
        logits[0].slice(1, 0, 8).fill_(5.f);
        const auto masks = sam::masks_from_logits(logits, 64, {64, 43}, {300, 200});
        QCOMPARE(masks.size(), size_t(2));
        QCOMPARE(masks[0].size(), cv::Size(300, 200));
        QCOMPARE(masks[0].type(), CV_8UC1);
        QCOMPARE(int(masks[0].at<uint8_t>(100, 145)), 255);
        QCOMPARE(int(masks[0].at<uint8_t>(199, 0)), 255);
        QCOMPARE(int(masks[0].at<uint8_t>(100, 155)), 0);
        QCOMPARE(cv::countNonZero(masks[1]), 0);
        QCOMPARE(mask_box(masks[0]).x1, 150.0);
        // Stability: pixels over +1 / pixels over -1.
        auto s = torch::zeros({2, 4, 4});
        s[0][0].fill_(2.f);   // 4 above +1
        s[0][1].fill_(0.5f);  // 4 more above -1
        s[1].fill_(-3.f);     // empty at both
        const auto st = sam::stability_scores(s);
        QCOMPARE(st[0].item<float>(), 4.f / 16.f);  // zeros count as above -1 too
        QCOMPARE(st[1].item<float>(), 0.f);
        // The everything grid: cell centres, row by row.
        const auto grid = sam::point_grid(4, {200, 100});
        QCOMPARE(grid.size(), size_t(16));
        QCOMPARE(grid[0], cv::Point2f(25, 12.5f));
        QCOMPARE(grid[5], cv::Point2f(75, 37.5f));
        QCOMPARE(grid[15], cv::Point2f(175, 87.5f));
    }

    void realSizesAnswerPointAndBoxPrompts() {
        // sam-vit-base's sizes, random weights, written as a SamModel folder.
        const fs::path dir = fs::path(tmp_.path().toStdString()) / "sam-vit-base-random";
        write_random_sam(dir.string());
        SamLoadParams lp;
        lp.model_dir = dir.string();
        auto sam = SamModel::load(lp);
        QVERIFY(sam->info().parameters > 89'000'000);  // ViT-B: 93.7 M
        QCOMPARE(sam->info().image_size, 1024);

        const cv::Mat image = scene(300, 200);
        const double encode_ms = sam->set_image(image);
        QVERIFY(encode_ms > 0);
        QCOMPARE(sam->cached_images(), size_t(1));

        SamPrompt point;
        point.points = {cv::Point2f(100, 100)};
        point.labels = {1};
        const auto masks = sam->predict(image, point);
        QCOMPARE(masks.size(), size_t(3));
        for (size_t i = 0; i < masks.size(); ++i) {
            QCOMPARE(masks[i].mask.cols, 300);
            QCOMPARE(masks[i].mask.rows, 200);
            QCOMPARE(masks[i].mask.type(), CV_8UC1);
            if (i > 0) QVERIFY(masks[i - 1].iou >= masks[i].iou);
        }
        SamPrompt box;
        box.box = Box{180, 50, 260, 130};
        box.multimask = false;
        const auto one = sam->predict(image, box);
        QCOMPARE(one.size(), size_t(1));
        QCOMPARE(one[0].mask.size(), image.size());
        QCOMPARE(sam->cached_images(), size_t(1));  // the same image: no second encode
        QCOMPARE(sam->set_image(image), 0.0);
    }

    // predict() maps prompt pixels into the model's frame as transformers' processor does: x by
    // the resized/original width ratio, y by the height ratio (300x200 -> 64x43 here, so the
    // two differ), and the masks back to the image. Checked against the network driven by
    // hand; the same point with x and y swapped gives other masks, so the check can fail.
    void predictMapsPromptsToTheModelsFrame() {
        SamLoadParams lp;
        lp.model_dir = fixture_.string();
        auto sam = SamModel::load(lp);
        const cv::Mat image = scene(300, 200);
        SamPrompt prompt;
        prompt.points = {cv::Point2f(250, 30), cv::Point2f(40, 170)};
        prompt.labels = {1, 0};
        prompt.box = Box{200, 10, 290, 90};
        const auto got = sam->predict(image, prompt);
        QCOMPARE(got.size(), size_t(3));

        torch::NoGradGuard ng;
        const SamConfig c = load_sam_config(fixture_.string());
        std::vector<std::string> unused;
        sam::SamNet net = fixtureNet(c, &unused);
        QVERIFY(unused.empty());
        const cv::Size resized = sam::resized_size(image.size(), c.image_size);
        QCOMPARE(resized, cv::Size(64, 43));
        const float sx = 64.f / 300.f, sy = 43.f / 200.f;
        const auto emb = net->vision_encoder->forward(sam::preprocess(image, c.image_size));
        auto by_hand = [&](bool swap) {
            auto pts = torch::empty({1, 1, 2, 2});
            for (int q = 0; q < 2; ++q) {
                const cv::Point2f p = prompt.points[size_t(q)];
                pts[0][0][q][0] = (swap ? p.y : p.x) * sx;
                pts[0][0][q][1] = (swap ? p.x : p.y) * sy;
            }
            const auto labels = torch::tensor({1, 0}, torch::kInt64).view({1, 1, 2});
            const auto box = torch::tensor({200 * sx, 10 * sy, 290 * sx, 90 * sy}).view({1, 1, 4});
            const auto d = net->decode(emb, pts, labels, box, true);
            auto masks = sam::masks_from_logits(d.masks[0][0], c.image_size, resized, image.size());
            const auto iou = d.iou[0][0];
            std::vector<std::pair<float, cv::Mat>> ranked;
            for (size_t k = 0; k < masks.size(); ++k)
                ranked.emplace_back(iou[int64_t(k)].item<float>(), masks[k]);
            std::stable_sort(ranked.begin(), ranked.end(),
                             [](const auto& a, const auto& b) { return a.first > b.first; });
            return ranked;
        };
        const auto want = by_hand(false), swapped = by_hand(true);
        int differ_swapped = 0;
        for (size_t k = 0; k < got.size(); ++k) {
            QCOMPARE(got[k].mask.size(), image.size());
            QVERIFY(std::abs(got[k].iou - want[k].first) < 1e-5);
            QCOMPARE(cv::countNonZero(got[k].mask != want[k].second), 0);
            differ_swapped += cv::countNonZero(got[k].mask != swapped[k].second);
        }
        QVERIFY2(differ_swapped > 0, "swapped coordinates gave the same masks");
    }

    void batchedEqualsOneByOne() {
        SamLoadParams lp;
        lp.model_dir = fixture_.string();
        auto sam = SamModel::load(lp);
        const cv::Mat image = scene(64, 48);
        std::vector<SamPrompt> prompts;
        for (int i = 0; i < 7; ++i) {
            SamPrompt p;
            p.points = {cv::Point2f(5.f + 8.f * i, 4.f + 6.f * i)};
            p.labels = {1};
            prompts.push_back(p);
        }
        const auto batched = sam->predict_batch(image, prompts, 4);  // two decoder calls
        QCOMPARE(batched.size(), prompts.size());
        for (size_t i = 0; i < prompts.size(); ++i) {
            const auto single = sam->predict(image, prompts[i]);
            QCOMPARE(batched[i].mask.size(), image.size());
            QVERIFY(std::abs(batched[i].iou - single[0].iou) < 1e-5);
            const int differ = cv::countNonZero(batched[i].mask != single[0].mask);
            QVERIFY2(differ <= 1,
                     qPrintable(QString("prompt %1: %2 pixels differ").arg(i).arg(differ)));
        }
        QCOMPARE(sam->cached_images(), size_t(1));
        // Four more images: the first falls out of the cache, which holds 4.
        for (int k = 1; k <= 4; ++k) QVERIFY(sam->set_image(scene(64 + k, 48)) > 0);
        QCOMPARE(sam->cached_images(), size_t(4));
        QVERIFY(sam->set_image(image) > 0);
        // A random SAM built in memory answers too.
        auto random = SamModel::random(load_sam_config(fixture_.string()), "cpu");
        QCOMPARE(random->info().parameters, sam->info().parameters);
        QCOMPARE(random->predict(image, prompts[0]).size(), size_t(3));
        // Empty prompts are refused.
        QVERIFY_THROWS_EXCEPTION(rc::Error, sam->predict(image, SamPrompt{}));
    }

    void segmentEverything() {
        SamLoadParams lp;
        lp.model_dir = fixture_.string();
        auto sam = SamModel::load(lp);
        const cv::Mat image = scene(80, 60);
        SamEverythingParams p;
        p.points_per_side = 8;
        p.points_per_batch = 16;
        p.pred_iou_thresh = 0.f;  // random weights: the filters off (0, as transformers)
        p.stability_thresh = 0.f;
        p.min_area_fraction = 0.0;
        std::vector<float> seen;
        p.progress = [&](float f) {
            seen.push_back(f);
            return true;
        };
        const auto proposals = sam->segment_everything(image, p);
        QVERIFY(!proposals.empty());
        QVERIFY(seen.size() >= 4 && seen.back() == 1.f);
        for (size_t i = 0; i < proposals.size(); ++i) {
            const Proposal& q = proposals[i];
            QCOMPARE(q.mask.size(), image.size());
            QCOMPARE(q.source, std::string("sam"));
            QVERIFY(cv::countNonZero(q.mask) > 0);
            const Box b = mask_box(q.mask);
            QCOMPARE(q.box.x0, b.x0);
            QCOMPARE(q.box.y0, b.y0);
            QCOMPARE(q.box.x1, b.x1);
            QCOMPARE(q.box.y1, b.y1);
            if (i > 0) QVERIFY(proposals[i - 1].score >= q.score);
            for (size_t j = 0; j < i; ++j) QVERIFY(iou(proposals[j].box, q.box) <= p.nms_iou);
        }
        // The predicted-IoU filter: above every score, nothing is left.
        SamEverythingParams strict = p;
        strict.pred_iou_thresh = proposals.front().score + 1.f;
        QVERIFY(sam->segment_everything(image, strict).empty());
        // Cancelling from the progress callback ends with rc::Error("cancelled").
        p.progress = [](float f) { return f < 0.2f; };
        try {
            sam->segment_everything(image, p);
            QFAIL("not cancelled");
        } catch (const rc::Error& e) {
            QCOMPARE(QString(e.what()), QString("cancelled"));
        }
        // Through the ProposalGenerator interface.
        auto gen = make_sam_generator(sam);
        QCOMPARE(gen->name(), std::string("sam"));
        ProposalParams pp;
        pp.max_proposals = 2;
        const auto some = gen->generate(image, pp);
        QVERIFY(some.size() <= 2);
        for (const auto& q : some) QCOMPARE(q.source, std::string("sam"));
    }

    void brokenCheckpointsNameTheTensor() {
        const std::string victim = "mask_decoder.iou_prediction_head.proj_out.weight";
        const fs::path missing = edited_copy("missing", [&](std::vector<Tensor>& t) {
            t.erase(std::remove_if(t.begin(), t.end(),
                                   [&](const Tensor& x) { return x.name == victim; }),
                    t.end());
        });
        const fs::path misshaped = edited_copy("misshaped", [&](std::vector<Tensor>& t) {
            for (auto& x : t)
                if (x.name == victim) {
                    x.shape = {2, 32};
                    x.data.resize(2 * 32 * 4);
                }
        });
        for (const fs::path& dir : {missing, misshaped}) {
            SamLoadParams lp;
            lp.model_dir = dir.string();
            try {
                SamModel::load(lp);
                QFAIL("a broken checkpoint loaded");
            } catch (const rc::Error& e) {
                QVERIFY2(std::string(e.what()).find(victim) != std::string::npos, e.what());
            }
        }
        // A config that is not SAM's, and one that is not JSON.
        const fs::path bad = fs::path(tmp_.path().toStdString()) / "badconfig";
        fs::create_directories(bad);
        fs::copy_file(fixture_ / "model.safetensors", bad / "model.safetensors");
        write_text(bad / "config.json", R"({"model_type": "llava"})");
        SamLoadParams lp;
        lp.model_dir = bad.string();
        try {
            SamModel::load(lp);
            QFAIL("a llava config loaded as SAM");
        } catch (const rc::Error& e) {
            QVERIFY2(std::string(e.what()).find("not 'sam'") != std::string::npos, e.what());
        }
        write_text(bad / "config.json", "{\"model_type\": \"sam\", ");
        try {
            SamModel::load(lp);
            QFAIL("broken JSON loaded");
        } catch (const rc::Error& e) {
            QVERIFY2(std::string(e.what()).find("invalid JSON") != std::string::npos, e.what());
        }
        lp.model_dir = (bad / "nowhere").string();
        QVERIFY_THROWS_EXCEPTION(rc::Error, SamModel::load(lp));
    }
};

QTEST_GUILESS_MAIN(TestSam)
#include "test_sam.moc"
