// Writes a photo-like JPEG (a gradient with noise, so it compresses like a photo) for the
// load scripts: make_image WIDTH HEIGHT OUT.jpg
#include "../unit/jobs/image_fixtures.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s WIDTH HEIGHT OUT.jpg\n", argv[0]);
        return 2;
    }
    int w = std::atoi(argv[1]);
    int h = std::atoi(argv[2]);
    if (w < 1 || h < 1 || w > 20000 || h > 20000) {
        std::fprintf(stderr, "make_image: bad size\n");
        return 2;
    }
    auto jpeg = steadyloop::test::images::photo(w, h, steadyloop::test::images::encoding::jpeg);
    std::ofstream(argv[3], std::ios::binary).write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
    std::printf("%s: %dx%d, %zu bytes\n", argv[3], w, h, jpeg.size());
    return 0;
}
