// config.json parsing: the llava-hf layout with Hugging Face defaults, the round trip through
// model_config_to_json, and errors that name the key at fault.
#include <QtTest/QtTest>

#include <functional>

#include "regionchat/config.h"
#include "regionchat/error.h"

namespace {

// config.json of llava-hf/llava-1.5-7b-hf: most keys are left to the HF class defaults.
const char* kLlava15Hf = R"({
  "architectures": [
    "LlavaForConditionalGeneration"
  ],
  "ignore_index": -100,
  "image_token_index": 32000,
  "model_type": "llava",
  "pad_token_id": 32001,
  "projector_hidden_act": "gelu",
  "text_config": {
    "_name_or_path": "lmsys/vicuna-7b-v1.5",
    "architectures": [
      "LlamaForCausalLM"
    ],
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "rms_norm_eps": 1e-05,
    "torch_dtype": "float16",
    "vocab_size": 32064
  },
  "tie_word_embeddings": false,
  "torch_dtype": "float16",
  "transformers_version": "4.36.0.dev0",
  "vision_config": {
    "hidden_size": 1024,
    "image_size": 336,
    "intermediate_size": 4096,
    "model_type": "clip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "patch_size": 14,
    "projection_dim": 768,
    "vocab_size": 32000
  },
  "vision_feature_layer": -2,
  "vision_feature_select_strategy": "default",
  "vocab_size": 32064
})";

QString error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rc::Error& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

// A minimal valid config with `text` and `vision` spliced into the sub-objects and `top`
// added at the top level (each a comma-separated list of "key": value pairs or empty).
std::string config_with(const std::string& top, const std::string& text = "",
                        const std::string& vision = "") {
    std::string s = "{\"model_type\": \"llava\", \"text_config\": {" + text +
                    "}, \"vision_config\": {" + vision + "}";
    if (!top.empty()) s += ", " + top;
    return s + "}";
}

}  // namespace

class TestConfig : public QObject {
    Q_OBJECT

private slots:
    void llava15HfConfig() {
        const rc::ModelConfig c = rc::parse_model_config(kLlava15Hf, "config.json");
        // Given values.
        QCOMPARE(c.vision.hidden_size, 1024);
        QCOMPARE(c.vision.intermediate_size, 4096);
        QCOMPARE(c.vision.num_hidden_layers, 24);
        QCOMPARE(c.vision.num_attention_heads, 16);
        QCOMPARE(c.vision.image_size, 336);
        QCOMPARE(c.vision.patch_size, 14);
        QCOMPARE(c.text.vocab_size, 32064);
        QCOMPARE(c.text.max_position_embeddings, 4096);
        QCOMPARE(c.text.rms_norm_eps, 1e-5);
        QCOMPARE(c.image_token_index, 32000);
        QCOMPARE(c.vision_feature_layer, -2);
        QCOMPARE(c.vision_feature_select_strategy, std::string("default"));
        QCOMPARE(c.projector_hidden_act, std::string("gelu"));
        // CLIPVisionConfig defaults.
        QCOMPARE(c.vision.num_channels, 3);
        QCOMPARE(c.vision.layer_norm_eps, 1e-5);
        QCOMPARE(c.vision.hidden_act, std::string("quick_gelu"));
        // LlamaConfig defaults.
        QCOMPARE(c.text.hidden_size, 4096);
        QCOMPARE(c.text.intermediate_size, 11008);
        QCOMPARE(c.text.num_hidden_layers, 32);
        QCOMPARE(c.text.num_attention_heads, 32);
        QCOMPARE(c.text.num_key_value_heads, 32);
        QCOMPARE(c.text.rope_theta, 10000.0);
        QCOMPARE(c.text.hidden_act, std::string("silu"));
        QCOMPARE(c.text.tie_word_embeddings, false);
        QCOMPARE(c.text.bos_token_id, 1);
        QCOMPARE(c.text.eos_token_id, 2);
        QCOMPARE(c.text.pad_token_id, -1);
        // RegionChat defaults.
        QCOMPARE(c.projector_type, std::string("mlp2x_gelu"));
        QCOMPARE(c.chat_template, std::string("vicuna_v1"));
        QCOMPARE(c.region_format, std::string("dualfocus"));
        QCOMPARE(c.image_aspect, std::string("pad"));
        QCOMPARE(c.image_tokens(), (336 / 14) * (336 / 14));
        QCOMPARE(c.image_tokens(), 576);
        QVERIFY2(c.warnings.empty(), c.warnings.empty() ? "" : c.warnings.front().c_str());
    }

    void emptySubConfigsTakeHfDefaults() {
        const rc::ModelConfig c = rc::parse_model_config(config_with(""), "config.json");
        QCOMPARE(c.vision.hidden_size, 768);
        QCOMPARE(c.vision.intermediate_size, 3072);
        QCOMPARE(c.vision.num_hidden_layers, 12);
        QCOMPARE(c.vision.num_attention_heads, 12);
        QCOMPARE(c.vision.image_size, 224);
        QCOMPARE(c.vision.patch_size, 32);
        QCOMPARE(c.image_tokens(), 49);
        QCOMPARE(c.text.vocab_size, 32000);
        QCOMPARE(c.text.max_position_embeddings, 2048);
        QCOMPARE(c.text.rms_norm_eps, 1e-6);
        QCOMPARE(c.image_token_index, 32000);
        QCOMPARE(c.vision_feature_layer, -2);
    }

    void keyValueHeadsFollowHeads() {
        auto c = rc::parse_model_config(
            config_with("", "\"hidden_size\": 512, \"num_attention_heads\": 8"), "config.json");
        QCOMPARE(c.text.num_key_value_heads, 8);
        c = rc::parse_model_config(config_with("",
                                               "\"hidden_size\": 512, \"num_attention_heads\": "
                                               "8, \"num_key_value_heads\": null"),
                                   "config.json");
        QCOMPARE(c.text.num_key_value_heads, 8);
        c = rc::parse_model_config(config_with("",
                                               "\"hidden_size\": 512, \"num_attention_heads\": "
                                               "8, \"num_key_value_heads\": 2, "
                                               "\"pad_token_id\": 0, \"rope_scaling\": null"),
                                   "config.json");
        QCOMPARE(c.text.num_key_value_heads, 2);
        QCOMPARE(c.text.pad_token_id, 0);
    }

    void fullStrategyKeepsCls() {
        const auto c =
            rc::parse_model_config(config_with("\"vision_feature_select_strategy\": \"full\"", "",
                                               "\"image_size\": 336, \"patch_size\": 14"),
                                   "config.json");
        QCOMPARE(c.image_tokens(), 24 * 24 + 1);
    }

    void regionchatAndProjectorKeys() {
        auto c =
            rc::parse_model_config(config_with("\"mm_projector_type\": \"linear\""), "config.json");
        QCOMPARE(c.projector_type, std::string("linear"));
        c = rc::parse_model_config(
            config_with("\"regionchat\": {\"chat_template\": \"llama_2\", \"region_format\": "
                        "\"pink\", \"image_aspect\": \"resize\", \"projector_type\": \"linear\"}"),
            "config.json");
        QCOMPARE(c.chat_template, std::string("llama_2"));
        QCOMPARE(c.region_format, std::string("pink"));
        QCOMPARE(c.image_aspect, std::string("resize"));
        QCOMPARE(c.projector_type, std::string("linear"));
        QVERIFY(c.warnings.empty());
    }

    void unknownKeysWarn() {
        const auto c = rc::parse_model_config(
            config_with("\"foo\": 1, \"initializer_range\": 0.02, \"regionchat\": {\"zap\": 2}",
                        "\"bar\": true, \"attention_dropout\": 0.0, \"pretraining_tp\": 1",
                        "\"baz\": null, \"dropout\": 0.0, \"initializer_factor\": 1.0"),
            "config.json");
        QStringList w;
        for (const std::string& s : c.warnings) w << QString::fromStdString(s);
        w.sort();
        QCOMPARE(w, QStringList({"config.json: unknown key 'foo' ignored",
                                 "config.json: unknown key 'regionchat.zap' ignored",
                                 "config.json: unknown key 'text_config.bar' ignored",
                                 "config.json: unknown key 'vision_config.baz' ignored"}));
    }

    void roundTrip() {
        rc::ModelConfig c;
        c.vision.hidden_size = 96;
        c.vision.intermediate_size = 200;
        c.vision.num_hidden_layers = 5;
        c.vision.num_attention_heads = 3;
        c.vision.image_size = 64;
        c.vision.patch_size = 8;
        c.vision.num_channels = 4;
        c.vision.layer_norm_eps = 1.2345678901234567e-7;
        c.vision.hidden_act = "gelu";
        c.text.vocab_size = 1234;
        c.text.hidden_size = 128;
        c.text.intermediate_size = 333;
        c.text.num_hidden_layers = 3;
        c.text.num_attention_heads = 4;
        c.text.num_key_value_heads = 2;
        c.text.max_position_embeddings = 777;
        c.text.rms_norm_eps = 0.1 + 0.2;  // not exactly representable in short decimal
        c.text.rope_theta = 500000.25;
        c.text.tie_word_embeddings = true;
        c.text.bos_token_id = 5;
        c.text.eos_token_id = -1;
        c.text.pad_token_id = 0;
        c.projector_type = "linear";
        c.vision_feature_layer = -6;
        c.vision_feature_select_strategy = "full";
        c.image_token_index = 1233;
        c.chat_template = "llama_2";
        c.region_format = "pixels";
        c.image_aspect = "resize";

        const std::string text = rc::model_config_to_json(c);
        const rc::ModelConfig r = rc::parse_model_config(text, "config.json");
        QVERIFY2(r.warnings.empty(), text.c_str());
        QCOMPARE(r.vision.hidden_size, c.vision.hidden_size);
        QCOMPARE(r.vision.intermediate_size, c.vision.intermediate_size);
        QCOMPARE(r.vision.num_hidden_layers, c.vision.num_hidden_layers);
        QCOMPARE(r.vision.num_attention_heads, c.vision.num_attention_heads);
        QCOMPARE(r.vision.image_size, c.vision.image_size);
        QCOMPARE(r.vision.patch_size, c.vision.patch_size);
        QCOMPARE(r.vision.num_channels, c.vision.num_channels);
        QVERIFY(r.vision.layer_norm_eps == c.vision.layer_norm_eps);  // exact, not fuzzy
        QCOMPARE(r.vision.hidden_act, c.vision.hidden_act);
        QCOMPARE(r.text.vocab_size, c.text.vocab_size);
        QCOMPARE(r.text.hidden_size, c.text.hidden_size);
        QCOMPARE(r.text.intermediate_size, c.text.intermediate_size);
        QCOMPARE(r.text.num_hidden_layers, c.text.num_hidden_layers);
        QCOMPARE(r.text.num_attention_heads, c.text.num_attention_heads);
        QCOMPARE(r.text.num_key_value_heads, c.text.num_key_value_heads);
        QCOMPARE(r.text.max_position_embeddings, c.text.max_position_embeddings);
        QVERIFY(r.text.rms_norm_eps == c.text.rms_norm_eps);
        QVERIFY(r.text.rope_theta == c.text.rope_theta);
        QCOMPARE(r.text.hidden_act, c.text.hidden_act);
        QCOMPARE(r.text.tie_word_embeddings, c.text.tie_word_embeddings);
        QCOMPARE(r.text.bos_token_id, c.text.bos_token_id);
        QCOMPARE(r.text.eos_token_id, c.text.eos_token_id);
        QCOMPARE(r.text.pad_token_id, c.text.pad_token_id);
        QCOMPARE(r.projector_type, c.projector_type);
        QCOMPARE(r.projector_hidden_act, c.projector_hidden_act);
        QCOMPARE(r.vision_feature_layer, c.vision_feature_layer);
        QCOMPARE(r.vision_feature_select_strategy, c.vision_feature_select_strategy);
        QCOMPARE(r.image_token_index, c.image_token_index);
        QCOMPARE(r.chat_template, c.chat_template);
        QCOMPARE(r.region_format, c.region_format);
        QCOMPARE(r.image_aspect, c.image_aspect);
        QCOMPARE(rc::model_config_to_json(r), text);

        // The layout transformers' LlavaForConditionalGeneration expects, 2-space indented.
        const QByteArray bytes = QByteArray::fromStdString(text);
        QVERIFY(bytes.startsWith("{\n  \""));
        const QJsonObject o = QJsonDocument::fromJson(bytes).object();
        QCOMPARE(o["architectures"].toArray().at(0).toString(),
                 QString("LlavaForConditionalGeneration"));
        QCOMPARE(o["model_type"].toString(), QString("llava"));
        const QJsonObject t = o["text_config"].toObject();
        const QJsonObject v = o["vision_config"].toObject();
        QCOMPARE(t["model_type"].toString(), QString("llama"));
        QCOMPARE(v["model_type"].toString(), QString("clip_vision_model"));
        for (const char* k :
             {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
              "rms_norm_eps", "rope_theta", "hidden_act", "tie_word_embeddings", "bos_token_id",
              "eos_token_id", "pad_token_id"})
            QVERIFY2(t.contains(k), k);
        for (const char* k :
             {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "image_size", "patch_size", "num_channels", "layer_norm_eps", "hidden_act"})
            QVERIFY2(v.contains(k), k);
        QVERIFY(t["eos_token_id"].isNull());
        QCOMPARE(t["num_key_value_heads"].toInt(), 2);
        QCOMPARE(o["regionchat"].toObject()["region_format"].toString(), QString("pixels"));

        // The llava-hf config survives a round trip too.
        const rc::ModelConfig hf = rc::parse_model_config(kLlava15Hf, "config.json");
        const std::string hf_text = rc::model_config_to_json(hf);
        QCOMPARE(rc::model_config_to_json(rc::parse_model_config(hf_text, "x.json")), hf_text);
    }

    void errors_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expect");
        auto row = [](const char* name, const std::string& json, const char* expect) {
            QTest::newRow(name) << QString::fromStdString(json) << QString(expect);
        };
        row("missing text_config", R"({"model_type": "llava", "vision_config": {}})",
            "config.json: missing key 'text_config'");
        row("missing vision_config", R"({"text_config": {}})",
            "config.json: missing key 'vision_config'");
        row("text_config not object", R"({"text_config": 3, "vision_config": {}})",
            "config.json: text_config must be an object");
        row("invalid json", R"({"text_config": )", "config.json: invalid JSON");
        row("not an object", "[]", "config.json: must be a JSON object");
        row("other model_type", R"({"model_type": "blip", "text_config": {}, "vision_config": {}})",
            "config.json: model_type 'blip'");
        row("string int", config_with("", "\"hidden_size\": \"4096\""),
            "config.json: text_config.hidden_size must be an integer");
        row("float int", config_with("", "\"hidden_size\": 4096.5"),
            "config.json: text_config.hidden_size must be an integer");
        row("int out of range", config_with("", "\"hidden_size\": 3000000000"),
            "config.json: text_config.hidden_size");
        row("zero hidden", config_with("", "\"hidden_size\": 0"),
            "config.json: text_config.hidden_size");
        row("too many layers", config_with("", "\"num_hidden_layers\": 5000"),
            "config.json: text_config.num_hidden_layers");
        row("huge vocab", config_with("", "\"vocab_size\": 2000000"),
            "config.json: text_config.vocab_size");
        row("rope_scaling", config_with("", R"("rope_scaling": {"type": "linear", "factor": 2.0})"),
            "config.json: text_config.rope_scaling");
        row("rope_parameters type",
            config_with("", R"("rope_parameters": {"rope_type": "linear", "factor": 2.0})"),
            "config.json: text_config.rope_parameters rope_type \"linear\" is not supported");
        row("rope_parameters theta", config_with("", R"("rope_parameters": {"rope_theta": "x"})"),
            "config.json: text_config.rope_parameters rope_theta must be a number");
        row("rope_parameters not object", config_with("", R"("rope_parameters": 5)"),
            "config.json: text_config.rope_parameters must be an object");
        row("heads do not divide", config_with("", "\"num_attention_heads\": 30"),
            "config.json: text_config.hidden_size 4096 is not divisible by "
            "text_config.num_attention_heads 30");
        row("kv heads do not divide", config_with("", "\"num_key_value_heads\": 5"),
            "config.json: text_config.num_attention_heads 32 is not divisible by "
            "text_config.num_key_value_heads 5");
        row("text act", config_with("", "\"hidden_act\": \"gelu\""),
            "config.json: text_config.hidden_act");
        row("text model_type", config_with("", "\"model_type\": \"mistral\""),
            "config.json: text_config.model_type");
        row("bool type", config_with("", "\"tie_word_embeddings\": \"no\""),
            "config.json: text_config.tie_word_embeddings");
        row("eps negative", config_with("", "\"rms_norm_eps\": -1"),
            "config.json: text_config.rms_norm_eps");
        row("eps string", config_with("", "\"rope_theta\": \"1e4\""),
            "config.json: text_config.rope_theta must be a number");
        row("attention bias", config_with("", "\"attention_bias\": true"),
            "config.json: text_config.attention_bias");
        row("head_dim", config_with("", "\"head_dim\": 64"), "config.json: text_config.head_dim");
        row("patch does not divide", config_with("", "", "\"image_size\": 336, \"patch_size\": 15"),
            "config.json: vision_config.image_size 336 is not divisible by "
            "vision_config.patch_size 15");
        row("image too big", config_with("", "", "\"image_size\": 8192"),
            "config.json: vision_config.image_size");
        row("vision act", config_with("", "", "\"hidden_act\": \"relu\""),
            "config.json: vision_config.hidden_act");
        row("vision heads", config_with("", "", "\"num_attention_heads\": 7"),
            "config.json: vision_config.hidden_size");
        row("vision model_type", config_with("", "", "\"model_type\": \"siglip_vision_model\""),
            "config.json: vision_config.model_type");
        row("feature layer",
            config_with("\"vision_feature_layer\": -30", "", "\"num_hidden_layers\": 24"),
            "config.json: vision_feature_layer -30");
        row("feature layer list", config_with("\"vision_feature_layer\": [-2, -5]"),
            "config.json: vision_feature_layer must be an integer");
        row("strategy", config_with("\"vision_feature_select_strategy\": \"cls\""),
            "config.json: vision_feature_select_strategy");
        row("projector act", config_with("\"projector_hidden_act\": \"relu\""),
            "config.json: projector_hidden_act");
        row("projector type", config_with("\"mm_projector_type\": \"qformer\""),
            "config.json: mm_projector_type");
        row("image token type", config_with("\"image_token_index\": \"<image>\""),
            "config.json: image_token_index must be an integer");
        row("regionchat not object", config_with("\"regionchat\": []"),
            "config.json: regionchat must be an object");
        row("chat template", config_with(R"("regionchat": {"chat_template": "chatml"})"),
            "config.json: regionchat.chat_template");
        row("region format", config_with(R"("regionchat": {"region_format": 3})"),
            "config.json: regionchat.region_format must be a string");
        row("image aspect", config_with(R"("regionchat": {"image_aspect": "letterbox"})"),
            "config.json: regionchat.image_aspect");
        row("projector conflict",
            config_with(
                R"("mm_projector_type": "linear", "regionchat": {"projector_type": "mlp2x_gelu"})"),
            "config.json: regionchat.projector_type");
    }

    void errors() {
        QFETCH(QString, json);
        QFETCH(QString, expect);
        const QString e =
            error_of([&] { rc::parse_model_config(json.toStdString(), "config.json"); });
        QVERIFY2(e.contains(expect), qPrintable("expected '" + expect + "', got '" + e + "'"));
    }

    void loadFromFolderOrFile() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile f(dir.filePath("config.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(kLlava15Hf);
        f.close();
        QCOMPARE(rc::load_model_config(dir.path().toStdString()).image_tokens(), 576);
        QCOMPARE(
            rc::load_model_config(dir.filePath("config.json").toStdString()).vision.hidden_size,
            1024);
        QTemporaryDir empty;
        const QString e = error_of([&] { rc::load_model_config(empty.path().toStdString()); });
        QVERIFY2(e.contains(empty.path() + "/config.json"), qPrintable(e));
        // Errors inside the file name the file path.
        QFile bad(empty.filePath("config.json"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write(R"({"vision_config": {}})");
        bad.close();
        const QString m = error_of([&] { rc::load_model_config(empty.path().toStdString()); });
        QVERIFY2(m.contains(empty.path() + "/config.json: missing key 'text_config'"),
                 qPrintable(m));
    }

    // llava-hf ships preprocessor_config.json: CLIPImageProcessor centre-crops (not LLaVA-1.5's
    // pad), LlavaImageProcessor with do_pad pads; what it cannot do is refused by key.
    void imageProcessorDecidesTheFit() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto write = [&](const char* name, const std::string& text) {
            QFile f(dir.filePath(name));
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(text.c_str());
        };
        write("config.json", kLlava15Hf);
        const std::string path = dir.path().toStdString();
        QCOMPARE(rc::load_model_config(path).image_aspect, std::string("pad"));  // no file

        // llava-hf/llava-1.5-7b-hf's file.
        const std::string clip = R"({"crop_size": {"height": 336, "width": 336},
          "do_center_crop": true, "do_convert_rgb": true, "do_normalize": true,
          "do_rescale": true, "do_resize": true,
          "image_mean": [0.48145466, 0.4578275, 0.40821073],
          "image_processor_type": "CLIPImageProcessor",
          "image_std": [0.26862954, 0.26130258, 0.27577711],
          "processor_class": "LlavaProcessor", "resample": 3,
          "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}})";
        write("preprocessor_config.json", clip);
        rc::ModelConfig c = rc::load_model_config(path);
        QCOMPARE(c.image_aspect, std::string("crop"));
        QCOMPARE(c.image_filter, std::string("bicubic"));
        QVERIFY(c.warnings.empty());

        write("preprocessor_config.json",
              R"({"image_processor_type": "LlavaImageProcessor", "do_pad": true,
                  "size": {"shortest_edge": 336}, "crop_size": 336,
                  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})");
        c = rc::load_model_config(path);
        QCOMPARE(c.image_aspect, std::string("pad"));
        QCOMPARE(c.image_mean[1], 0.5f);
        QCOMPARE(c.image_std[2], 0.5f);

        const struct {
            std::string text, expect;
        } bad[] = {
            {R"({"size": {"shortest_edge": 224}})", "preprocessor_config.json: size 224 differs"},
            {R"({"crop_size": {"height": 336, "width": 300}})", "crop_size.height differs"},
            {R"({"resample": 2})", "resample 2 is not supported"},
            {R"({"do_center_crop": false})", "do_center_crop false leaves a non-square"},
            {R"({"image_std": [0.5, 0, 0.5]})", "image_std must be positive"},
            {R"({"image_mean": "clip"})", "image_mean must be a list of three numbers"},
            {R"({"image_processor_type": "SiglipImageProcessor"})", "image_processor_type"},
            {"[1, 2]", "preprocessor_config.json"},
        };
        for (const auto& b : bad) {
            write("preprocessor_config.json", b.text);
            const QString e = error_of([&] { rc::load_model_config(path); });
            QVERIFY2(e.contains(QString::fromStdString(b.expect)),
                     qPrintable(QString::fromStdString(b.text) + " -> " + e));
        }

        // transformers 5's processor_config.json nests the image processor.
        QVERIFY(QFile::remove(dir.filePath("preprocessor_config.json")));
        write("processor_config.json", R"({"image_processor": )" + clip +
                                           R"(, "patch_size": 14, "image_token": "<image>"})");
        QCOMPARE(rc::load_model_config(path).image_aspect, std::string("crop"));
        write("processor_config.json", R"({"image_processor": {"resample": 0}})");
        const QString nested = error_of([&] { rc::load_model_config(path); });
        QVERIFY2(nested.contains("processor_config.json: image_processor.resample 0"),
                 qPrintable(nested));

    }
};

QTEST_APPLESS_MAIN(TestConfig)
#include "test_config.moc"
