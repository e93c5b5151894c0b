#include <gtest/gtest.h>

#include "store/manifest.h"

namespace pocketlm::store {

namespace {

const std::string k_hex_a(64, 'a');
const std::string k_hex_b(64, 'b');

std::string pulled_manifest() {  // as registry.ollama.ai serves it
  return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
         R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" +
         k_hex_b + R"(","size":487},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
         k_hex_a + R"(","size":397807936},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:)" +
         k_hex_b + R"(","size":1482}]})";
}

}  // namespace

TEST(StoreManifest, ParsesPulledShape) {
  auto m = parse_manifest(pulled_manifest());
  ASSERT_TRUE(m) << m.error_message();
  EXPECT_EQ(m->layers.size(), 2u);
  ASSERT_NE(m->find(media::model), nullptr);
  EXPECT_EQ(m->find(media::model)->size, 397807936);
  EXPECT_EQ(m->total_size(), 487 + 397807936 + 1482);
  EXPECT_EQ(m->digests(), (std::vector<std::string>{k_hex_b, k_hex_a, k_hex_b}));
}

TEST(StoreManifest, ParsesCreatedShapeWithFromAndDashDigests) {
  const std::string text =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
      "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"sha256-" +
      k_hex_b +
      "\",\"size\":10},\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
      "\"digest\":\"sha256:" +
      k_hex_a + "\",\"size\":5,\"from\":\"/x/blobs/sha256-" + k_hex_a + "\"}]}\n";
  auto m = parse_manifest(text);
  ASSERT_TRUE(m) << m.error_message();
  EXPECT_EQ(m->layers[0].from, "/x/blobs/sha256-" + k_hex_a);
  EXPECT_EQ(m->digests()[0], k_hex_b);
  // Round trip: Ollama's field order, compact, trailing newline.
  manifest again = *m;
  again.config.digest = "sha256:" + k_hex_b;
  const std::string out = serialize_manifest(again);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find("{\"schemaVersion\":2,\"mediaType\":"), 0u);
  auto back = parse_manifest(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(serialize_manifest(*back), out);
}

TEST(StoreManifest, RejectsMalformed) {
  const std::string model_layer =
      R"({"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" + k_hex_a + R"(","size":1})";
  EXPECT_FALSE(parse_manifest("not json"));
  EXPECT_FALSE(parse_manifest("[]"));
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":1,"layers":[)" + model_layer + "]}"));
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2})"));
  EXPECT_FALSE(parse_manifest(R"({"layers":[]})"));  // no model layer
  EXPECT_FALSE(parse_manifest(R"({"layers":[)" + model_layer + "," + model_layer + "]}"));
  EXPECT_FALSE(parse_manifest(
      R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:zz","size":1}]})"));
  EXPECT_FALSE(parse_manifest(R"({"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:)" +
                              k_hex_a + R"(","size":-1}]})"));
  EXPECT_TRUE(parse_manifest(R"({"layers":[)" + model_layer + "]}"));
}

TEST(StoreManifest, DigestHex) {
  EXPECT_EQ(*digest_hex("sha256:" + std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_EQ(*digest_hex("sha256-" + k_hex_a), k_hex_a);
  EXPECT_FALSE(digest_hex("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(digest_hex("sha512:" + k_hex_a));
  EXPECT_FALSE(digest_hex("sha256:../../etc/passwd" + std::string(41, 'a')));
}

}  // namespace pocketlm::store
