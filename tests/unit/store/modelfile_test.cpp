#include <gtest/gtest.h>

#include "store/format.h"
#include "store/model_config.h"
#include "store/modelfile.h"

namespace pocketlm::store {

TEST(StoreModelfile, ParsesInstructions) {
  auto mf = parse_modelfile(
      "# comment\nfrom qwen2.5:0.5b\nPARAMETER temperature 0.2\nPARAMETER stop \"<|im_end|>\"\n"
      "SYSTEM \"\"\"\nline one\nline two\"\"\"\nLICENSE MIT\nTEMPLATE \"\"\"{{ .Prompt }}\n\"\"\"\n");
  ASSERT_TRUE(mf) << mf.error_message();
  EXPECT_EQ(mf->from, "qwen2.5:0.5b");
  ASSERT_EQ(mf->parameters.size(), 2u);
  EXPECT_EQ(mf->parameters[1], (std::pair<std::string, std::string>{"stop", "<|im_end|>"}));
  EXPECT_EQ(mf->system, "line one\nline two");
  EXPECT_EQ(mf->licenses, std::vector<std::string>{"MIT"});
  EXPECT_TRUE(mf->has_template);
}

TEST(StoreModelfile, Errors) {
  EXPECT_EQ(parse_modelfile("PARAMETER top_k 1\n").error_message(), "Modelfile has no FROM line");
  EXPECT_EQ(parse_modelfile("FROM x\nFORM y\n").error_message(), "Modelfile line 2: unknown instruction 'FORM'");
  EXPECT_FALSE(parse_modelfile("FROM x\nSYSTEM \"\"\"never closed\n"));
  EXPECT_FALSE(parse_modelfile("FROM x\nPARAMETER lonely\n"));
  EXPECT_FALSE(parse_modelfile("FROM x\nADAPTER lora.gguf\n"));
}

TEST(StoreParams, ParsesOllamaParamsLayer) {
  auto p = parse_params(
      R"({"temperature":0.6,"top_k":20,"stop":["<|im_start|>","<|im_end|>"],"num_ctx":4096,"mirostat":0})");
  ASSERT_TRUE(p) << p.error_message();
  EXPECT_DOUBLE_EQ(*p->temperature, 0.6);
  EXPECT_EQ(*p->top_k, 20);
  EXPECT_EQ(*p->num_ctx, 4096);
  EXPECT_FALSE(p->seed);
  EXPECT_EQ(p->stop, (std::vector<std::string>{"<|im_start|>", "<|im_end|>"}));
  EXPECT_TRUE(p->json.contains("mirostat"));
  EXPECT_FALSE(parse_params(R"({"top_k":"many"})"));
  EXPECT_FALSE(parse_params(R"({"top_k":1.5})"));
  EXPECT_FALSE(parse_params(R"({"stop":[1]})"));
  EXPECT_FALSE(parse_params("[1]"));
}

TEST(StoreParams, SetParamTypesValues) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  ASSERT_TRUE(set_param(j, "temperature", "0.5"));
  ASSERT_TRUE(set_param(j, "num_predict", "128"));
  ASSERT_TRUE(set_param(j, "stop", "a"));
  ASSERT_TRUE(set_param(j, "stop", "b"));
  EXPECT_EQ(j.dump(), R"({"temperature":0.5,"num_predict":128,"stop":["a","b"]})");
  EXPECT_FALSE(set_param(j, "num_predict", "1.5"));
  EXPECT_FALSE(set_param(j, "temperature", "warm"));
  EXPECT_FALSE(set_param(j, "nosuch", "1"));
}

TEST(StoreFormat, MatchesOllama) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1185376), "1.2 MB");
  EXPECT_EQ(human_bytes(397807936), "397 MB");
  EXPECT_EQ(human_bytes(2000000000), "2 GB");
  EXPECT_EQ(human_age(0), "Less than a second ago");
  EXPECT_EQ(human_age(90), "About a minute ago");
  EXPECT_EQ(human_age(3 * 3600), "3 hours ago");
  EXPECT_EQ(human_age(10 * 86400), "10 days ago");
  EXPECT_EQ(human_age(-270), "4 minutes from now");
  EXPECT_EQ(human_count(494032768), "494.03M");
  EXPECT_EQ(human_count(1500000000), "1.5B");
  EXPECT_EQ(format_table({{"NAME", "ID"}, {"a:latest", "x"}}), "NAME        ID\na:latest    x\n");
}

}  // namespace pocketlm::store
