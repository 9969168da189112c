// Writes the image fuzzer's seeds into a folder: small images made with libvips by the
// unit tests' fixtures (tests/unit/jobs/image_fixtures), each followed by the request
// bytes the fuzzer reads from the end of its input. make_corpus.py runs it.
#include "image_fixtures.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace images = steadyloop::test::images;

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
        return 2;
    }
    std::filesystem::path const dir = argv[1];
    std::filesystem::create_directories(dir);
    using images::encoding;

    std::vector<std::pair<std::string, std::string>> seeds;
    for (auto [name, format] : {std::pair{"jpeg", encoding::jpeg}, std::pair{"png", encoding::png},
                                std::pair{"webp", encoding::webp}, std::pair{"gif", encoding::gif}}) {
        seeds.emplace_back(std::string(name) + "_photo", images::photo(24, 16, format));
        seeds.emplace_back(std::string(name) + "_tall", images::photo(3, 40, format));
    }
    seeds.emplace_back("png_rgba", images::encode(images::solid_pixels(9, 7, {10, 200, 30, 128}), encoding::png));
    seeds.emplace_back("webp_rgba", images::encode(images::solid_pixels(9, 7, {10, 200, 30, 128}), encoding::webp));
    seeds.emplace_back("jpeg_rotated",
                       images::encode(images::photo_pixels(20, 10), encoding::jpeg, {.orientation = 6}));
    seeds.emplace_back("jpeg_xmp", images::encode(images::photo_pixels(8, 8), encoding::jpeg,
                                                  {.xmp = "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"}));
    seeds.emplace_back("png_icc", images::encode(images::photo_pixels(8, 8), encoding::png, {.icc_profile = "p3"}));
    seeds.emplace_back("gif_animated", images::animated_gif(6, 6, {{255, 0, 0}, {0, 255, 0}}));
    seeds.emplace_back("png_claiming_huge", images::png_claiming(20000, 20000));
    seeds.emplace_back("png_claiming_small", images::png_claiming(4, 4));
    seeds.emplace_back("bmp", images::bmp_2x2());
    seeds.emplace_back("svg", images::svg_document());

    // The request, read from the end: sides (0 both, 1 width, 2 height), width, height,
    // fit, format (3 = the input's), quality.
    std::vector<std::string> const requests = {
        std::string("\x50\x02\x00\x10\x10\x00", 6),  // 16x16 inside, jpeg, quality 80
        std::string("\x20\x03\x01\x08\x20\x00", 6),  // 32x8 cover, the input's format
        std::string("\x40\x02\x02\x05\x05\x00", 6),  // 5x5 fill, webp
        std::string("\x10\x01\x00\x07\x01", 5),      // width 7 only, png
    };
    int written = 0;
    for (auto const& [name, bytes] : seeds)
        for (std::size_t r = 0; r < requests.size(); ++r) {
            // FuzzedDataProvider reads the request bytes from the end, last byte first.
            std::string request(requests[r].rbegin(), requests[r].rend());
            std::ofstream(dir / (name + "_" + std::to_string(r)), std::ios::binary) << bytes << request;
            ++written;
        }
    std::printf("%d image seeds in %s\n", written, dir.c_str());
    return 0;
}
