// Asio and Beast compiled once, here (separate compilation): every other translation
// unit only sees their declarations, which keeps rebuilds of the project fast.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
