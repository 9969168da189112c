// Writes a photo-like JPEG for the load scripts: a colour gradient with broad, soft
// detail and a little grain, so that it compresses like a camera photo (about 2 bits per
// pixel at quality 85) rather than like pure noise or a flat colour.
//
//   make_image WIDTH HEIGHT OUT.jpg [GRAIN]     (GRAIN: ± per channel, default 18)
#include "../unit/jobs/image_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

namespace images = steadyloop::test::images;

int main(int argc, char** argv)
{
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: %s WIDTH HEIGHT OUT.jpg [GRAIN]\n", argv[0]);
        return 2;
    }
    int const w = std::atoi(argv[1]);
    int const h = std::atoi(argv[2]);
    int const grain = argc == 5 ? std::atoi(argv[4]) : 18;
    if (w < 1 || h < 1 || w > 20000 || h > 20000 || grain < 0 || grain > 64) {
        std::fprintf(stderr, "make_image: bad size or grain\n");
        return 2;
    }
    images::pixels image{.width = w, .height = h, .bands = 3, .data = {}};
    image.data.resize(std::size_t(w) * std::size_t(h) * 3);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> jitter(-grain, grain);
    auto clamp = [](double v) { return static_cast<unsigned char>(std::clamp(v, 0.0, 255.0)); };
    std::size_t i = 0;
    for (int y = 0; y < h; ++y) {
        double const fy = double(y) / h;
        for (int x = 0; x < w; ++x) {
            double const fx = double(x) / w;
            // Broad shapes and finer texture at a few scales, like foliage or fabric.
            double const detail = 28 * std::sin(fx * 37 + 3 * std::sin(fy * 11)) * std::cos(fy * 29) +
                                  14 * std::sin((fx + fy) * 173) + 7 * std::sin(fx * 611) * std::sin(fy * 587);
            image.data[i++] = clamp(60 + 150 * fx + detail + jitter(rng));
            image.data[i++] = clamp(40 + 170 * fy + detail * 0.8 + jitter(rng));
            image.data[i++] = clamp(90 + 80 * (fx + fy) / 2 - detail * 0.6 + jitter(rng));
        }
    }
    images::encode_options options;
    options.quality = 85;
    auto jpeg = images::encode(image, images::encoding::jpeg, options);
    std::ofstream(argv[3], std::ios::binary).write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
    std::printf("%s: %dx%d, %zu bytes (%.2f bits per pixel)\n", argv[3], w, h, jpeg.size(),
                8.0 * double(jpeg.size()) / (double(w) * h));
    return 0;
}
