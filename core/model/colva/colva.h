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
