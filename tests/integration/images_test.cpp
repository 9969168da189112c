// POST /images/resize through the real binary, per API.md ("Images — worker pool") and
// issue 4: every fit × output format with the result decoded by libvips in this process
// (not only its headers believed), EXIF orientation, animated GIFs, hostile inputs that
// must leave every worker alive, the limits (--max-image-body, --max-image-pixels), bad
// parameters, and the loop kept free while every worker resizes.
//
// The test images are made on the spot by the unit tests' fixtures (libvips in this
// process: it posix_spawns the server and never forks, so libvips is safe here).
#include "checks.hpp"
#include "http_client.hpp"
#include "processes.hpp"
#include "server_process.hpp"

#include "../unit/jobs/image_fixtures.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace itest;
namespace images = steadyloop::test::images;
using images::encoding;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t)
{
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

// ---- the server's side ----------------------------------------------------------------

double pool_field(unsigned short port, std::string_view field)
{
    return number_at(loop_snapshot(port), "worker_pool/" + std::string(field));
}

std::vector<pid_t> worker_pids(unsigned short port)
{
    auto const loop = loop_snapshot(port);  // kept: a range-for would not extend its life
    std::vector<pid_t> out;
    for (auto const& v : loop.at("worker_pool").at("pids").as_array())
        out.push_back(v.to_number<pid_t>());
    std::sort(out.begin(), out.end());
    return out;
}

bool all_up(unsigned short port, std::size_t workers)
{
    return pool_field(port, "alive") == static_cast<double>(workers) && worker_pids(port).size() == workers &&
           get(port, "/readyz").status() == 200;
}

// A server with `workers` workers, all of them up.
struct image_server {
    server_process srv;
    std::vector<pid_t> pids;

    explicit image_server(std::size_t workers, std::vector<std::string> extra = {})
        : srv([&] {
              std::vector<std::string> args{"--workers", std::to_string(workers)};
              args.insert(args.end(), extra.begin(), extra.end());
              return args;
          }())
    {
        if (!eventually([&] { return all_up(srv.port(), workers); }, std::chrono::seconds(5)))
            throw std::runtime_error("the workers did not come up:\n" + srv.log());
        pids = worker_pids(srv.port());
    }
    unsigned short port() const { return srv.port(); }
};

// After a hostile input: /ping answers, no worker crashed or was replaced, the workers
// are the very processes that were there before, and the server has no zombie child.
::testing::AssertionResult still_healthy(image_server const& s)
{
    auto ping = get(s.port(), "/ping", {}, 2s);
    if (ping.status() != 200)
        return ::testing::AssertionFailure() << "/ping answered\n" << ping;
    auto loop = loop_snapshot(s.port());
    for (char const* field : {"crashes", "respawns", "timeouts"})
        if (number_at(loop, std::string("worker_pool/") + field) != 0)
            return ::testing::AssertionFailure() << "worker_pool." << field << " is not 0: "
                                                 << boost::json::serialize(loop);
    auto const now = worker_pids(s.port());
    if (now != s.pids) {
        std::ostringstream msg;
        msg << "the workers changed:";
        for (pid_t p : s.pids)
            msg << ' ' << p;
        msg << " ->";
        for (pid_t p : now)
            msg << ' ' << p;
        return ::testing::AssertionFailure() << msg.str();
    }
    for (pid_t p : now)
        if (!is_running(p))
            return ::testing::AssertionFailure() << "worker " << p << " is not running";
    return no_zombie_children(s.srv.pid());
}

// A field of /proc/<pid>/status in KiB: "VmHWM" (peak resident set), "VmPeak" (peak
// address space, which shows a large allocation even when its pages are never touched).
long status_kib(pid_t pid, std::string const& field)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(field + ":"))
            return std::stol(line.substr(field.size() + 1));
    return -1;
}

// A worker's peaks, to tell that a job allocated nothing large.
struct memory_peaks {
    long rss_kib = 0;
    long address_space_kib = 0;
};
memory_peaks peaks_of(pid_t pid) { return {status_kib(pid, "VmHWM"), status_kib(pid, "VmPeak")}; }

// Neither peak grew by more than `mib` since `before`.
::testing::AssertionResult allocated_less_than(pid_t pid, memory_peaks const& before, long mib)
{
    auto const after = peaks_of(pid);
    long const rss = (after.rss_kib - before.rss_kib) / 1024;
    long const address_space = (after.address_space_kib - before.address_space_kib) / 1024;
    std::cout << "worker " << pid << ": peak RSS +" << rss << " MiB, peak address space +" << address_space
              << " MiB\n";
    if (before.rss_kib <= 0 || after.rss_kib <= 0)
        return ::testing::AssertionFailure() << "no /proc/" << pid << "/status";
    if (rss >= mib || address_space >= mib)
        return ::testing::AssertionFailure() << "peak RSS grew by " << rss << " MiB, peak address space by "
                                             << address_space << " MiB (limit " << mib << " MiB)";
    return ::testing::AssertionSuccess();
}

// ---- the client's side ----------------------------------------------------------------

reply resize(unsigned short port, std::string const& query, std::string_view body, headers const& extra = {},
             std::chrono::milliseconds timeout = 10s)
{
    connection c(port);
    return c.request(make_request("POST", "/images/resize?" + query, extra, body), false, timeout);
}

struct format_case {
    char const* api;  // the format= value
    char const* content_type;
    char const* loader;  // libvips' loader for the answer's bytes
};
constexpr format_case jpeg_out{"jpeg", "image/jpeg", "jpegload_buffer"};
constexpr format_case png_out{"png", "image/png", "pngload_buffer"};
constexpr format_case webp_out{"webp", "image/webp", "webpload_buffer"};
constexpr format_case output_formats[] = {jpeg_out, png_out, webp_out};

// A 200 carrying an image of `format`, width × height by its headers and, decoded here
// by libvips with every pixel read, by its bytes; one page, no metadata left.
::testing::AssertionResult is_image(reply const& r, format_case const& format, int width, int height)
{
    auto fail = [&](std::string const& why) {
        return ::testing::AssertionFailure() << why << " in\n" << r;
    };
    if (r.status() != 200)
        return fail("status " + std::to_string(r.status()));
    if (auto ok = has_standard_headers(r); !ok)
        return ok;
    if (r.header("Content-Type") != format.content_type)
        return fail("Content-Type is not " + std::string(format.content_type));
    std::string const want_w = std::to_string(width);
    std::string const want_h = std::to_string(height);
    if (r.header("X-Image-Width") != want_w || r.header("X-Image-Height") != want_h)
        return fail("X-Image-Width × X-Image-Height is not " + want_w + "×" + want_h);
    auto d = images::decode(r.body());
    if (!d)
        return fail("libvips cannot decode the answer");
    if (d->loader != format.loader)
        return fail("the bytes are read by " + d->loader + ", not " + format.loader);
    if (d->width != width || d->height != height)
        return fail("the decoded image is " + std::to_string(d->width) + "×" + std::to_string(d->height) +
                    ", not " + want_w + "×" + want_h);
    if (d->pages != 1)
        return fail(std::to_string(d->pages) + " pages");
    if (d->has_exif || d->has_xmp || d->has_icc || (d->orientation && *d->orientation != 1))
        return fail("metadata left in the output (EXIF, XMP, ICC or an orientation)");
    return ::testing::AssertionSuccess();
}

// The mean colour of a rectangle of an answer's image, as text for messages.
std::string text(std::vector<double> const& v)
{
    std::ostringstream out;
    out << '(';
    for (std::size_t i = 0; i < v.size(); ++i)
        out << (i ? ", " : "") << v[i];
    return out.str() + ')';
}

// A 120×80 photo-like JPEG: red grows from left to right, green from top to bottom.
std::string const& photo_jpeg()
{
    static std::string const bytes = images::photo(120, 80, encoding::jpeg);
    return bytes;
}

// `bytes` with a 16-bit value written at `at`, little- or big-endian.
std::string patched(std::string bytes, std::size_t at, unsigned value, bool big_endian)
{
    bytes.at(at) = static_cast<char>(big_endian ? value >> 8 : value & 0xff);
    bytes.at(at + 1) = static_cast<char>(big_endian ? value & 0xff : value >> 8);
    return bytes;
}

// A real JPEG whose frame header (SOF0) declares width × height.
std::string jpeg_claiming(unsigned width, unsigned height)
{
    auto jpeg = images::photo(16, 16, encoding::jpeg);
    auto const sof = jpeg.find("\xff\xc0");
    if (sof == std::string::npos)
        throw std::runtime_error("no SOF0 marker in the test JPEG");
    // FF C0, length (2), precision (1), height (2), width (2): big-endian.
    return patched(patched(jpeg, sof + 5, height, true), sof + 7, width, true);
}

// A real lossy WebP whose VP8 key frame (14 bits a side) and, when there is one, VP8X
// canvas (24 bits a side, minus one) declare width × height.
std::string webp_claiming(unsigned width, unsigned height)
{
    auto webp = images::photo(16, 16, encoding::webp);
    auto const start = webp.find("\x9d\x01\x2a");
    if (webp.find("VP8 ") == std::string::npos || start == std::string::npos)
        throw std::runtime_error("the test WebP is not a lossy one");
    webp = patched(patched(webp, start + 3, width, false), start + 5, height, false);
    if (webp.compare(12, 4, "VP8X") == 0)
        for (int i = 0; i < 3; ++i) {
            webp.at(24 + i) = static_cast<char>(((width - 1) >> (8 * i)) & 0xff);
            webp.at(27 + i) = static_cast<char>(((height - 1) >> (8 * i)) & 0xff);
        }
    return webp;
}

// A real GIF whose logical screen and first image descriptor declare width × height.
std::string gif_claiming(unsigned width, unsigned height)
{
    auto gif = images::photo(16, 16, encoding::gif);
    gif = patched(patched(gif, 6, width, false), 8, height, false);
    std::size_t at = 13;
    auto const flags = static_cast<unsigned char>(gif.at(10));
    if (flags & 0x80)
        at += 3u << ((flags & 7) + 1);  // the global colour table
    while (at < gif.size() && gif[at] == '\x21') {  // extensions: label, then sub-blocks
        at += 2;
        while (at < gif.size() && gif[at] != 0)
            at += static_cast<unsigned char>(gif[at]) + 1u;
        ++at;
    }
    if (at >= gif.size() || gif[at] != '\x2c')
        throw std::runtime_error("no image descriptor in the test GIF");
    // 2C, left (2), top (2), width (2), height (2): little-endian.
    return patched(patched(gif, at + 5, width, false), at + 7, height, false);
}

// ---- every fit × format ---------------------------------------------------------------

TEST(images, every_fit_and_output_format_gives_the_size_asked_for)
{
    image_server s(2);
    struct fit_case {
        char const* fit;
        int width, height;  // of the answer, for a 120×80 input in a 60×60 box
    };
    fit_case const fits[] = {{"inside", 60, 40}, {"cover", 60, 60}, {"fill", 60, 60}};
    for (auto const& fc : fits)
        for (auto const& fmt : output_formats) {
            std::string const query = std::string("width=60&height=60&fit=") + fc.fit + "&format=" + fmt.api;
            SCOPED_TRACE(query);
            EXPECT_TRUE(is_image(resize(s.port(), query, photo_jpeg()), fmt, fc.width, fc.height));
        }
    // fit defaults to inside.
    EXPECT_TRUE(is_image(resize(s.port(), "width=60&height=60&format=png", photo_jpeg()), png_out, 60, 40));
    EXPECT_EQ(pool_field(s.port(), "completed"), 10);
}

TEST(images, cover_fills_the_box_exactly_by_cropping_the_centre)
{
    image_server s(1);
    // Taller box than the input's shape: scaled to 90×60, then 15 columns cut on each side.
    auto r = resize(s.port(), "width=60&height=60&fit=cover&format=png", photo_jpeg());
    ASSERT_TRUE(is_image(r, png_out, 60, 60));
    // Red grows with x: the left edge is the input's x ≈ 20 (red ≈ 43), the right edge its
    // x ≈ 99 (red ≈ 212). A stretch would reach ≈ 0 and ≈ 255; no crop of the top or bottom.
    auto left = images::mean_pixel(r.body(), 0, 0, 2, 60);
    auto right = images::mean_pixel(r.body(), 58, 0, 2, 60);
    auto top = images::mean_pixel(r.body(), 0, 0, 60, 2);
    auto bottom = images::mean_pixel(r.body(), 0, 58, 60, 2);
    EXPECT_TRUE(left[0] > 28 && left[0] < 60) << "left edge " << text(left);
    EXPECT_TRUE(right[0] > 195 && right[0] < 228) << "right edge " << text(right);
    EXPECT_LT(top[1], 20) << "top edge " << text(top);
    EXPECT_GT(bottom[1], 235) << "bottom edge " << text(bottom);
}

TEST(images, fill_stretches_to_the_box_keeping_every_edge)
{
    image_server s(1);
    auto r = resize(s.port(), "width=30&height=90&fit=fill&format=png", photo_jpeg());
    ASSERT_TRUE(is_image(r, png_out, 30, 90));
    auto left = images::mean_pixel(r.body(), 0, 0, 1, 90);
    auto right = images::mean_pixel(r.body(), 29, 0, 1, 90);
    auto top = images::mean_pixel(r.body(), 0, 0, 30, 1);
    auto bottom = images::mean_pixel(r.body(), 0, 89, 30, 1);
    EXPECT_LT(left[0], 20) << text(left);
    EXPECT_GT(right[0], 235) << text(right);
    EXPECT_LT(top[1], 20) << text(top);
    EXPECT_GT(bottom[1], 235) << text(bottom);
}

TEST(images, width_only_or_height_only_keeps_the_aspect_ratio)
{
    image_server s(1);
    struct side_case {
        char const* query;
        int width, height;
    };
    side_case const cases[] = {
        {"width=30", 30, 20},
        {"height=20", 30, 20},
        {"width=61", 61, 41},   // 40.67 rounds up
        {"height=41", 62, 41},  // 61.5 rounds up
        {"width=240", 240, 160},  // a small image grows to the size asked for
        // With one side only, cover and fill behave like inside (image.hpp).
        {"width=30&fit=cover", 30, 20},
        {"height=20&fit=fill", 30, 20},
    };
    for (auto const& c : cases) {
        SCOPED_TRACE(c.query);
        auto r = resize(s.port(), std::string(c.query) + "&format=png", photo_jpeg());
        // libvips may round one pixel either way: take the headers' size if it is within
        // one pixel, then require the decoded bytes to agree with it exactly.
        int const w = std::atoi(r.header("X-Image-Width").c_str());
        int const h = std::atoi(r.header("X-Image-Height").c_str());
        EXPECT_LE(std::abs(w - c.width), 1) << r;
        EXPECT_LE(std::abs(h - c.height), 1) << r;
        EXPECT_TRUE(is_image(r, png_out, w, h));
    }
}

TEST(images, accepts_the_ends_of_the_parameter_ranges)
{
    image_server s(1);
    EXPECT_TRUE(is_image(resize(s.port(), "width=1&height=1&fit=fill&format=png", photo_jpeg()), png_out, 1, 1));
    EXPECT_TRUE(is_image(resize(s.port(), "width=8192&height=1&fit=fill&format=png", photo_jpeg()), png_out, 8192, 1));
    EXPECT_TRUE(is_image(resize(s.port(), "width=2&height=8192&fit=fill&format=png", photo_jpeg()), png_out, 2, 8192));
    EXPECT_TRUE(is_image(resize(s.port(), "width=40&quality=1", photo_jpeg()), jpeg_out, 40, 27));
    EXPECT_TRUE(is_image(resize(s.port(), "width=40&quality=100", photo_jpeg()), jpeg_out, 40, 27));
}

TEST(images, format_omitted_answers_in_the_input_format_and_gif_as_png)
{
    image_server s(1);
    struct input_case {
        encoding in;
        char const* name;
        format_case out;
    };
    input_case const cases[] = {
        {encoding::jpeg, "jpeg", jpeg_out},
        {encoding::png, "png", png_out},
        {encoding::webp, "webp", webp_out},
        {encoding::gif, "gif", png_out},
    };
    for (auto const& c : cases) {
        SCOPED_TRACE(c.name);
        auto input = images::encode(images::photo_pixels(90, 60), c.in);
        EXPECT_TRUE(is_image(resize(s.port(), "width=45", input), c.out, 45, 30));
        // And any input to any output format.
        for (auto const& fmt : output_formats) {
            SCOPED_TRACE(fmt.api);
            EXPECT_TRUE(is_image(resize(s.port(), std::string("height=20&format=") + fmt.api, input), fmt, 30, 20));
        }
    }
}

TEST(images, quality_changes_the_jpeg_and_webp_size)
{
    image_server s(1);
    auto const input = images::photo(320, 240, encoding::png);
    for (auto const& fmt : {jpeg_out, webp_out}) {
        SCOPED_TRACE(fmt.api);
        std::string const base = std::string("width=320&format=") + fmt.api;
        auto low = resize(s.port(), base + "&quality=10", input);
        auto mid = resize(s.port(), base, input);  // 80 by default
        auto high = resize(s.port(), base + "&quality=95", input);
        ASSERT_TRUE(is_image(low, fmt, 320, 240));
        ASSERT_TRUE(is_image(mid, fmt, 320, 240));
        ASSERT_TRUE(is_image(high, fmt, 320, 240));
        EXPECT_LT(low.body().size() * 2, high.body().size())
            << "quality 10: " << low.body().size() << " bytes, quality 95: " << high.body().size();
        EXPECT_LT(low.body().size(), mid.body().size());
        EXPECT_LT(mid.body().size(), high.body().size());
        // The same request twice gives the same bytes: quality is not ignored by chance.
        EXPECT_EQ(resize(s.port(), base + "&quality=10", input).body(), low.body());
    }
}

TEST(images, a_transparent_png_becomes_white_in_jpeg)
{
    image_server s(1);
    auto const input = images::encode(images::solid_pixels(40, 40, {255, 0, 0, 0}), encoding::png);
    auto r = resize(s.port(), "width=20&format=jpeg", input);
    ASSERT_TRUE(is_image(r, jpeg_out, 20, 20));
    auto mean = images::mean_pixel(r.body(), 0, 0, 20, 20);
    ASSERT_EQ(mean.size(), 3u);
    for (double v : mean)
        EXPECT_GT(v, 245) << "not flattened on white: " << text(mean);
    // PNG keeps the alpha band.
    auto p = resize(s.port(), "width=20&format=png", input);
    ASSERT_TRUE(is_image(p, png_out, 20, 20));
    EXPECT_EQ(images::decode(p.body())->bands, 4);
}

// ---- EXIF orientation, animated GIF -----------------------------------------------------

TEST(images, applies_exif_orientation_so_a_portrait_photo_stays_portrait)
{
    image_server s(1);
    // Stored 80×40: left half red, right half blue. Orientation 6 says "rotate 90°
    // clockwise to display": a 40×80 portrait, red on top, blue below.
    images::pixels stored{.width = 80, .height = 40, .bands = 3, .data = {}};
    for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 80; ++x)
            stored.data.insert(stored.data.end(), {x < 40 ? (unsigned char)255 : (unsigned char)0, 0,
                                                   x < 40 ? (unsigned char)0 : (unsigned char)255});
    images::encode_options rotated;
    rotated.orientation = 6;
    auto const input = images::encode(stored, encoding::jpeg, rotated);
    auto const in = images::decode(input);
    ASSERT_TRUE(in && in->orientation == 6 && in->width == 80) << "the fixture lost its orientation";

    for (auto const& fmt : output_formats) {
        SCOPED_TRACE(fmt.api);
        auto r = resize(s.port(), std::string("width=20&format=") + fmt.api, input);
        ASSERT_TRUE(is_image(r, fmt, 20, 40));  // portrait, without an orientation tag
        auto top = images::mean_pixel(r.body(), 0, 0, 20, 12);
        auto bottom = images::mean_pixel(r.body(), 0, 28, 20, 12);
        EXPECT_TRUE(top[0] > 200 && top[2] < 60) << "top is not red: " << text(top);
        EXPECT_TRUE(bottom[2] > 200 && bottom[0] < 60) << "bottom is not blue: " << text(bottom);
    }
    // A box: the rotated image fits it as a portrait.
    EXPECT_TRUE(is_image(resize(s.port(), "width=100&height=100&format=png", input), png_out, 50, 100));
}

TEST(images, an_animated_gif_gives_its_first_frame)
{
    image_server s(1);
    auto const gif = images::animated_gif(60, 40, {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}});
    auto const in = images::decode(gif);
    ASSERT_TRUE(in.has_value());
    ASSERT_EQ(in->height, 40);

    for (auto const& fmt : {png_out, jpeg_out, webp_out}) {
        SCOPED_TRACE(fmt.api);
        // Not 30×60 (three frames stacked), not 30×20 of a squashed strip.
        auto r = resize(s.port(), std::string("width=30&format=") + fmt.api, gif);
        ASSERT_TRUE(is_image(r, fmt, 30, 20));
        auto mean = images::mean_pixel(r.body(), 0, 0, 30, 20);
        EXPECT_TRUE(mean[0] > 230 && mean[1] < 25 && mean[2] < 25) << "not the first (red) frame: " << text(mean);
    }
    auto r = resize(s.port(), "width=30", gif);
    EXPECT_TRUE(is_image(r, png_out, 30, 20)) << "a GIF without format= is answered as PNG";
}

// ---- hostile inputs: a clean answer, and every worker still alive ----------------------

TEST(images, random_bytes_are_an_unsupported_image)
{
    image_server s(2);
    for (unsigned seed : {1u, 2u, 3u}) {
        auto r = resize(s.port(), "width=10", images::random_bytes(4096, seed));
        EXPECT_TRUE(is_problem(r, 415, "unsupported_image")) << "seed " << seed;
        EXPECT_TRUE(has_standard_headers(r));
    }
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, an_empty_body_is_an_unsupported_image)
{
    image_server s(2);
    EXPECT_TRUE(is_problem(resize(s.port(), "width=10", "", {{"Content-Length", "0"}}), 415, "unsupported_image"));
    EXPECT_TRUE(is_problem(resize(s.port(), "width=10", ""), 415, "unsupported_image")) << "no Content-Length";
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, formats_other_than_jpeg_png_webp_gif_are_unsupported)
{
    image_server s(2);
    struct other_case {
        char const* name;
        std::string bytes;
    };
    other_case const cases[] = {
        {"bmp", images::bmp_2x2()},
        {"svg", images::svg_document()},
        {"pdf", images::pdf_document()},
        {"tiff", images::photo(20, 20, encoding::tiff)},
        {"text", "hello, this is not an image\n"},
    };
    for (auto const& c : cases)
        EXPECT_TRUE(is_problem(resize(s.port(), "width=10", c.bytes), 415, "unsupported_image")) << c.name;
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, truncated_or_empty_pixel_data_is_a_corrupt_image)
{
    image_server s(2);
    auto const jpeg = images::photo(200, 150, encoding::jpeg);
    auto const png = images::photo(200, 150, encoding::png);
    auto const webp = images::photo(200, 150, encoding::webp);
    auto const gif = images::photo(200, 150, encoding::gif);
    struct cut_case {
        std::string name;
        std::string bytes;
    };
    std::vector<cut_case> cases;
    for (double share : {0.9, 0.5}) {
        cases.push_back({"jpeg cut at " + std::to_string(share), jpeg.substr(0, std::size_t(jpeg.size() * share))});
        cases.push_back({"png cut at " + std::to_string(share), png.substr(0, std::size_t(png.size() * share))});
        cases.push_back({"webp cut at " + std::to_string(share), webp.substr(0, std::size_t(webp.size() * share))});
        cases.push_back({"gif cut at " + std::to_string(share), gif.substr(0, std::size_t(gif.size() * share))});
    }
    cases.push_back({"jpeg cut inside its header", jpeg.substr(0, 40)});
    cases.push_back({"png cut inside IHDR", png.substr(0, 24)});
    // A valid PNG header over an empty zlib stream: no pixel at all.
    cases.push_back({"png with no pixel data", images::png_claiming(100, 100)});
    for (auto const& c : cases) {
        SCOPED_TRACE(c.name);
        for (auto const& fmt : {jpeg_out, png_out}) {
            auto r = resize(s.port(), std::string("width=100&format=") + fmt.api, c.bytes);
            // Never a 200 with a half-grey image.
            EXPECT_TRUE(is_problem(r, 422, "corrupt_image")) << "to " << fmt.api;
        }
    }
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, a_tiny_png_claiming_30000x30000_is_too_large_quickly_and_without_allocating)
{
    image_server s(1);
    pid_t const worker = s.pids.at(0);
    // Once libvips is started in the worker, its peak RSS is the baseline.
    ASSERT_TRUE(is_image(resize(s.port(), "width=10&format=png", photo_jpeg()), png_out, 10, 7));
    auto const before = peaks_of(worker);

    auto const claim = images::png_claiming(30000, 30000);
    ASSERT_LT(claim.size(), 100u);
    for (char const* query : {"width=100", "width=100&height=100&fit=fill&format=jpeg"}) {
        SCOPED_TRACE(query);
        auto r = resize(s.port(), query, claim);
        EXPECT_TRUE(is_problem(r, 422, "image_too_large"));
        EXPECT_LT(r.elapsed_ms(), 1000.0);
    }
    // 30000² RGB pixels are 2.7 GB; a decode, or a buffer for it, shows as hundreds of MB.
    EXPECT_TRUE(allocated_less_than(worker, before, 256));
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, a_header_claiming_a_huge_size_is_too_large_in_every_format)
{
    image_server s(1);
    pid_t const worker = s.pids.at(0);
    ASSERT_TRUE(is_image(resize(s.port(), "width=10&format=png", photo_jpeg()), png_out, 10, 7));
    struct claim_case {
        char const* name;
        std::string bytes;
    };
    claim_case const cases[] = {
        {"jpeg 60000x60000", jpeg_claiming(60000, 60000)},
        {"webp 16383x16383", webp_claiming(16383, 16383)},
        {"gif 65535x65535", gif_claiming(65535, 65535)},
        {"png 4000000x4000000", images::png_claiming(4'000'000, 4'000'000)},
    };
    for (auto const& c : cases) {
        SCOPED_TRACE(c.name);
        auto const before = peaks_of(worker);
        auto r = resize(s.port(), "width=100&format=png", c.bytes);
        EXPECT_TRUE(is_problem(r, 422, "image_too_large"));
        EXPECT_LT(r.elapsed_ms(), 1000.0);
        // Each of them is over a gigabyte decoded: nothing of that size may be allocated.
        EXPECT_TRUE(allocated_less_than(worker, before, 256));
    }
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, corrupt_pixel_data_is_a_corrupt_image)
{
    image_server s(2);
    // A PNG with its image data damaged (the IDAT CRC no longer matches).
    auto png = images::photo(64, 48, encoding::png);
    auto const idat = png.find("IDAT");
    ASSERT_NE(idat, std::string::npos);
    for (std::size_t i = idat + 20; i < idat + 60 && i < png.size(); ++i)
        png[i] = static_cast<char>(png[i] ^ 0x5a);
    for (auto const& fmt : output_formats) {
        SCOPED_TRACE(fmt.api);
        EXPECT_TRUE(is_problem(resize(s.port(), std::string("width=32&format=") + fmt.api, png), 422,
                               "corrupt_image"));
    }
    EXPECT_TRUE(still_healthy(s));
}

// Truncated in a way the loader's end-of-file check does not see: the scan stops short
// and an end-of-image marker follows. libjpeg only warns ("premature end of data segment")
// and fills the missing rows with grey: the half-grey image the issue forbids answering.
TEST(images, a_jpeg_whose_scan_ends_early_is_a_corrupt_image_not_half_grey)
{
    image_server s(1);
    auto const jpeg = images::photo(64, 48, encoding::jpeg);
    auto const sos = jpeg.find("\xff\xda");
    ASSERT_NE(sos, std::string::npos);
    std::string const cut = jpeg.substr(0, sos + (jpeg.size() - sos) / 3) + "\xff\xd9";
    for (auto const& fmt : output_formats) {
        SCOPED_TRACE(fmt.api);
        auto r = resize(s.port(), std::string("width=64&format=") + fmt.api, cut);
        EXPECT_TRUE(is_problem(r, 422, "corrupt_image"));
        if (r.status() == 200) {
            // Show what was answered: the bottom rows, never coded, are flat grey.
            auto bottom = images::mean_pixel(r.body(), 0, 40, 64, 8);
            ADD_FAILURE() << "answered 200 with bottom rows of mean colour " << text(bottom)
                          << " (the input's are ≈ (128, 235, 181))";
        }
    }
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, strips_exif_xmp_and_icc_metadata)
{
    image_server s(1);
    images::encode_options meta;
    meta.orientation = 1;
    meta.xmp = R"(<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>)";
    meta.icc_profile = "srgb";
    for (auto in : {encoding::jpeg, encoding::png, encoding::webp}) {
        auto const input = images::encode(images::photo_pixels(60, 40), in, meta);
        auto const d = images::decode(input);
        ASSERT_TRUE(d.has_value());
        ASSERT_TRUE(d->has_icc) << "the fixture lost its ICC profile";
        for (auto const& fmt : output_formats) {
            SCOPED_TRACE(d->loader + " to " + fmt.api);
            // is_image requires no EXIF, XMP, ICC profile nor orientation in the answer.
            EXPECT_TRUE(is_image(resize(s.port(), std::string("width=30&format=") + fmt.api, input), fmt, 30, 20));
        }
    }
}

TEST(images, max_image_pixels_is_respected)
{
    image_server s(1, {"--max-image-pixels", "10000"});
    // Exactly at the limit: accepted. One row or column more: refused from the header.
    EXPECT_TRUE(is_image(resize(s.port(), "width=50&format=png", images::photo(100, 100, encoding::png)), png_out,
                         50, 50));
    for (auto [w, h] : {std::pair{101, 100}, std::pair{100, 101}, std::pair{1000, 11}}) {
        SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
        for (auto in : {encoding::jpeg, encoding::png, encoding::webp}) {
            auto r = resize(s.port(), "width=10&format=png", images::photo(w, h, in));
            EXPECT_TRUE(is_problem(r, 422, "image_too_large"));
        }
    }
    // The output counts too: a small input blown up beyond the limit.
    auto const small = images::photo(50, 50, encoding::png);
    EXPECT_TRUE(is_image(resize(s.port(), "width=100&height=100&fit=fill&format=png", small), png_out, 100, 100));
    EXPECT_TRUE(is_problem(resize(s.port(), "width=101&height=100&fit=fill&format=png", small), 422,
                           "image_too_large"));
    EXPECT_TRUE(is_problem(resize(s.port(), "width=1000&format=png", small), 422, "image_too_large"));
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, the_default_pixel_limit_is_100_megapixels)
{
    image_server s(1);
    // 10001 × 10000 > 10⁸, refused from the header alone.
    auto r = resize(s.port(), "width=100", images::png_claiming(10001, 10000));
    EXPECT_TRUE(is_problem(r, 422, "image_too_large"));
    EXPECT_LT(r.elapsed_ms(), 1000.0);
    // 10000 × 10000 passes the limit and fails for what it is: no pixel data.
    EXPECT_TRUE(is_problem(resize(s.port(), "width=100", images::png_claiming(10000, 10000)), 422, "corrupt_image"));
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, a_body_over_max_image_body_is_413)
{
    image_server s(1, {"--max-image-body", "100000"});
    auto const big = images::random_bytes(100001, 7);
    {
        connection c(s.port());
        c.try_send(make_request("POST", "/images/resize?width=10", {}, big));
        auto r = c.read_response();
        EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
        EXPECT_TRUE(has_standard_headers(r));
    }
    {
        // Chunked: no length up front, the limit is found while reading.
        std::string req = "POST /images/resize?width=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t at = 0; at < big.size(); at += 16384) {
            auto piece = std::string_view(big).substr(at, 16384);
            std::ostringstream size;
            size << std::hex << piece.size();
            req.append(size.str()).append("\r\n").append(piece).append("\r\n");
        }
        req.append("0\r\n\r\n");
        connection c(s.port());
        c.try_send(req);
        EXPECT_TRUE(is_problem(c.read_response(), 413, "body_too_large")) << "chunked";
    }
    // At the limit: read, and judged for what it is.
    EXPECT_TRUE(is_problem(resize(s.port(), "width=10", images::random_bytes(100000, 7)), 415, "unsupported_image"));
    EXPECT_TRUE(is_image(resize(s.port(), "width=10&format=png", photo_jpeg()), png_out, 10, 7));
    EXPECT_EQ(pool_field(s.port(), "completed"), 2) << "a body over the limit reached a worker";
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, with_expect_100_continue_the_413_comes_before_the_body_is_sent)
{
    image_server s(1, {"--max-image-body", "100000"});
    connection c(s.port());
    c.send("POST /images/resize?width=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
           "Expect: 100-continue\r\n\r\n");
    // Not a byte of the body is sent: the answer must come anyway, and be final.
    auto r = c.read_response(false, 2s);
    EXPECT_TRUE(is_problem(r, 413, "body_too_large"));
    EXPECT_TRUE(has_standard_headers(r));
    EXPECT_LT(r.elapsed_ms(), 1000.0);
    EXPECT_TRUE(c.wait_closed(2s)) << "the connection stays open for a body that will not be read";

    // Under the limit: 100 Continue, then the body, then the image.
    connection ok(s.port());
    auto const& body = photo_jpeg();
    ok.send("POST /images/resize?width=10&format=png HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
    auto interim = ok.read_response(false, 2s);
    EXPECT_EQ(interim.status(), 100u) << interim;
    ok.send(body);
    EXPECT_TRUE(is_image(ok.read_response(false, 5s), png_out, 10, 7));
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, bad_parameters_are_400_naming_the_parameter)
{
    image_server s(1);
    struct bad_case {
        char const* query;
        char const* param;
    };
    bad_case const cases[] = {
        {"width=0", "width"},
        {"height=0", "height"},
        {"width=8193", "width"},
        {"height=8193", "height"},
        {"width=10&height=8193", "height"},
        {"width=-1", "width"},
        {"width=abc", "width"},
        {"height=1.5", "height"},
        {"width=", "width"},
        {"width=1e3", "width"},
        {"width=99999999999999999999999", "width"},
        {"", "width"},  // missing both
        {"fit=cover&format=png", "width"},
        {"width=10&quality=0", "quality"},
        {"width=10&quality=101", "quality"},
        {"width=10&quality=high", "quality"},
        {"width=10&fit=bogus", "fit"},
        {"width=10&fit=", "fit"},
        {"width=10&fit=COVER", "fit"},
        {"width=10&format=gif", "format"},
        {"width=10&format=bmp", "format"},
        {"width=10&format=", "format"},
        {"width=10&format=JPEG", "format"},
        {"width=10&format=jpg", "format"},
    };
    for (auto const& bc : cases) {
        SCOPED_TRACE(std::string("?") + bc.query);
        auto r = resize(s.port(), bc.query, photo_jpeg());
        EXPECT_TRUE(is_problem(r, 400, "bad_request"));
        if (r.status() == 400) {
            EXPECT_TRUE(names(r, bc.param)) << r;
        }
    }
    EXPECT_EQ(pool_field(s.port(), "completed"), 0) << "a bad request reached a worker";
    EXPECT_TRUE(still_healthy(s));
}

TEST(images, only_post_is_allowed)
{
    image_server s(1);
    auto r = get(s.port(), "/images/resize?width=10");
    EXPECT_TRUE(is_problem(r, 405, "method_not_allowed"));
    EXPECT_EQ(r.header("Allow"), "POST") << r;
}

// ---- the loop stays free ----------------------------------------------------------------

TEST(images, ping_answers_in_under_50ms_while_every_worker_resizes)
{
    // 12 megapixels, photo-like (timed, as the generation is this test's main cost).
    auto const made = clock_type::now();
    auto const big = images::photo(4000, 3000, encoding::jpeg);
    std::cout << "4000x3000 JPEG of " << big.size() << " bytes made in " << ms_since(made) << " ms\n";
    image_server s(2);

    // Three per worker, at once; large outputs so that each job decodes every pixel.
    std::vector<std::future<reply>> jobs;
    for (int i = 0; i < 6; ++i)
        jobs.push_back(std::async(std::launch::async, [&] {
            return resize(s.port(), "width=3000&format=jpeg", big, {}, 30s);
        }));
    ASSERT_TRUE(eventually([&] { return pool_field(s.port(), "busy") == 2; }, 5s))
        << boost::json::serialize(loop_snapshot(s.port()));

    connection c(s.port());
    double worst = 0;
    for (int i = 0; i < 10; ++i) {
        auto r = c.get("/ping");
        EXPECT_EQ(r.status(), 200u) << r;
        EXPECT_LT(r.elapsed_ms(), 50.0) << "ping " << i;
        worst = std::max(worst, r.elapsed_ms());
        std::this_thread::sleep_for(10ms);
    }
    auto const busy_after = pool_field(s.port(), "busy");
    EXPECT_EQ(busy_after, 2) << "the pings did not overlap the resizes";

    auto const started = clock_type::now();
    int ok = 0;
    for (auto& f : jobs) {
        auto r = f.get();
        if (ok == 0) {
            EXPECT_TRUE(is_image(r, jpeg_out, 3000, 2250));
        } else {
            EXPECT_EQ(r.status(), 200u) << r;
        }
        ok += r.status() == 200 ? 1 : 0;
    }
    EXPECT_EQ(ok, 6);
    auto loop = loop_snapshot(s.port());
    EXPECT_LT(number_at(loop, "lag_ms/max"), 50.0) << boost::json::serialize(loop);
    std::cout << "worst ping while both workers resize: " << worst << " ms; the resizes ended "
              << ms_since(started) << " ms after the pings\n";
    EXPECT_TRUE(still_healthy(s));
}

// ---- a client that leaves ---------------------------------------------------------------

TEST(images, a_resize_whose_client_left_while_queued_never_runs)
{
    image_server s(1, {"--worker-queue", "4"});
    // The one worker is held by a test job; the resize waits behind it.
    auto first = std::async(std::launch::async, [&] {
        connection c(s.port());
        return c.request(make_request("POST", "/test/jobs/sleep?ms=800"), false, 5s);
    });
    ASSERT_TRUE(eventually([&] { return pool_field(s.port(), "busy") == 1; }, 3s));
    {
        connection gone(s.port());
        gone.send(make_request("POST", "/images/resize?width=10&format=png", {}, photo_jpeg()));
        ASSERT_TRUE(eventually([&] { return pool_field(s.port(), "queued") == 1; }, 3s));
    }  // closed while its resize waits in the queue

    auto r = first.get();
    EXPECT_EQ(r.status(), 200u) << r;
    ASSERT_TRUE(eventually([&] { return pool_field(s.port(), "cancelled") == 1; }, 2s));
    std::this_thread::sleep_for(100ms);
    auto loop = loop_snapshot(s.port());
    EXPECT_EQ(number_at(loop, "worker_pool/cancelled"), 1) << boost::json::serialize(loop);
    EXPECT_EQ(number_at(loop, "worker_pool/completed"), 1) << "the abandoned resize ran";
    EXPECT_EQ(number_at(loop, "worker_pool/failed"), 0);
    EXPECT_EQ(number_at(loop, "worker_pool/queued"), 0);
    EXPECT_EQ(number_at(loop, "worker_pool/busy"), 0);
    // The worker is free for the next client.
    EXPECT_TRUE(is_image(resize(s.port(), "width=10&format=png", photo_jpeg()), png_out, 10, 7));
    EXPECT_TRUE(still_healthy(s));
}

}  // namespace
