// The CoLVA family (InternVL2 folders, with or without CoLVA's region tokens): its config and
// the network the engine drives. Layouts (docs/colva-layout.md section 3.5):
// - "internvl-hf": an InternVL2 folder (config.json model_type "internvl_chat", OpenGVLab's
//   weight names, tokenizer.model + added tokens): answers without region tokens.
// - "colva-hf": the same with radio_config and object_tokenizer.* / ot_mlp1.* (CoLVA's merged
//   colva_internvl2_4b).
// - "colva-kit": RegionChat's config.json (model_type "colva_kit") naming what MMVMEvalKit
//   loads: the base InternVL2 folder, the RADIO folder, the SFT .pth with the unmerged LoRA
//   (merged here, W + alpha/r B A) and the adapter .pth with ot_mlp1.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "model/colva/internvl.h"
#include "model/network.h"

namespace rc {

struct ColvaConfig {
    InternVlConfig net;
    std::string layout;          ///< "internvl-hf", "colva-hf", "colva-kit"
    std::string source;          ///< the config file
    std::string weights;         ///< folder or file of the (base) weights
    std::string tokenizer_dir;   ///< folder with tokenizer.model and tokenizer_config.json
    std::string radio_dir;       ///< colva-kit: the RADIO folder
    std::string sft_file;        ///< colva-kit: pretrained_pth (LoRA), may be empty
    std::string adapter_file;    ///< colva-kit: radio_pretrained_pth (ot_mlp1)
    int lora_r = 128;
    double lora_alpha = 256;
    std::string template_name = "phi3-chat";
    int max_tiles = 12;          ///< dynamic tiling's max_num
    bool thumbnail = true;
    int tile = 448;              ///< force_image_size
    std::vector<std::string> warnings;
    int tokens_per_tile() const {
        const int g = net.vision.grid() / 2;
        return g * g;
    }
};

/// Reads an InternVL2 / CoLVA config.json (`root`, from `source` in `folder`); rc::Error naming
/// the key at fault.
ColvaConfig read_colva_config(const nlohmann::json& root, const std::string& source,
                              const std::string& folder);

/// The network the engine drives: images become tiles (internvl_tiles, ImageNet mean/std) and
/// (tiles x 256) rows; regions become RADIO rows; Phi-3 decodes.
class InternVlNetwork : public LlamaBackedNetwork {
public:
    InternVlNetwork(InternVlNet net, const ColvaConfig& config, torch::Device device,
                    torch::Dtype dtype);
    torch::Tensor encode_image(const cv::Mat& bgr) override;
    torch::Tensor encode_regions(const cv::Mat& bgr, const std::vector<cv::Mat>& masks) override;
    InternVlNet& module() { return net_; }
    /// The normalised tiles of an image [N,3,S,S] (for tests).
    torch::Tensor tiles(const cv::Mat& bgr) const;

private:
    InternVlNet net_;
    int max_tiles_, tile_;
    bool thumbnail_;
};

}  // namespace rc
