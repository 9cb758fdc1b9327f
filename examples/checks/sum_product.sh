#!/usr/bin/env bash
source "$(dirname "$0")/common.bash"
expect_output sum_product "sum: 861
product: 3628800"
