// The tests' precompiled header (see framework/pch.hpp): the framework's, Boost.Test's and the
// shared test workers' headers.
#include "../../framework/pch.hpp"

#include "support/test_app.hpp"
#include "support/test_workers.hpp"

#include <boost/test/unit_test.hpp>
