#!/usr/bin/env node
'use strict';
// Builds the Debian package cradle_<version>_<arch>.deb from a built checkout
// (`npm run package` builds first; this script never does, so tests can run it
// beside their own dist/). No network: production dependencies are a pruned copy
// of node_modules chosen by package-lock.json, the pinned Node.js included.
//
//   node scripts/package.js [--out DIR] [--compression xz|gzip|none] [--stage DIR] [--version V]
//
// --version overrides package.json's version (tests build a newer package to upgrade to).
//
// Layout (docs/deployment.md): everything under /usr/lib/cradle, /usr/bin/cradled and
// /usr/bin/cradle-runtime as symlinks to its bin/ wrappers, the unit in
// /lib/systemd/system, conffiles /etc/cradle/cradle.toml and
// /etc/cni/net.d/11-cradle-bridge.conflist, completions and man pages.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { writeBuildInfo } = require('./gen-build-info');

const root = path.resolve(__dirname, '..');
const PREFIX = '/usr/lib/cradle';
// After the usual cluster CNI files (10-calico, 10-flannel, 10-kindnet...): the
// first file in lexical order is the default network, so a cluster's CNI wins.
const CNI_FILE = '/etc/cni/net.d/11-cradle-bridge.conflist';
const DEB_ARCH = { x64: 'amd64', arm64: 'arm64' };
// The pinned Node.js npm installed for this machine (package.json's optionalDependencies).
const NODE_PKG = `node-linux-${process.arch}`;

function parseOptions(argv) {
  const options = { out: path.join(root, 'dist'), compression: process.env.CRADLE_DEB_COMPRESSION || 'xz', stage: undefined, version: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    if (name === '--out') options.out = path.resolve(value());
    else if (name === '--compression') options.compression = value();
    else if (name === '--stage') options.stage = path.resolve(value());
    else if (name === '--version') options.version = value();
    else throw new Error(`unknown option ${argv[i]}; usage: package.js [--out DIR] [--compression xz|gzip|none] [--stage DIR] [--version V]`);
  }
  if (!['xz', 'gzip', 'none', 'zstd'].includes(options.compression)) throw new Error(`unknown compression ${options.compression}`);
  // Debian's version syntax, upstream part only (no epoch or revision).
  if (options.version !== undefined && !/^[0-9][A-Za-z0-9.+~]*$/.test(options.version)) throw new Error(`bad version ${options.version}`);
  return options;
}

function mkdirp(dir) {
  fs.mkdirSync(dir, { recursive: true });
}

function write(file, content, mode = 0o644) {
  mkdirp(path.dirname(file));
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Production packages from the lock file: every node_modules/* entry not marked dev. */
function productionPackages() {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  if (!lock.packages) throw new Error('package-lock.json has no "packages" (lockfileVersion >= 2 needed)');
  const out = [];
  for (const [rel, meta] of Object.entries(lock.packages)) {
    if (!rel.startsWith('node_modules/') || meta.dev || meta.link) continue;
    const src = path.join(root, rel);
    if (!fs.existsSync(src)) {
      // Optional packages for other platforms are never installed.
      if (meta.optional || meta.devOptional) continue;
      throw new Error(`${rel} is a production dependency but is not installed: run npm ci`);
    }
    out.push(rel);
  }
  return out;
}

/** Copies a package without its nested node_modules (those are entries of their own). */
function copyPackage(rel, destRoot) {
  const src = path.join(root, rel);
  const nested = path.join(src, 'node_modules');
  fs.cpSync(src, path.join(destRoot, rel), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (p) => p !== nested,
  });
}

// What a running cradle never reads: type declarations and TypeScript sources,
// source maps, the Node.js headers, bin links into pruned packages.
function pruneNodeModules(dir) {
  fs.rmSync(path.join(dir, '.bin'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, '@types'), { recursive: true, force: true });
  const nodePkg = path.join(dir, NODE_PKG);
  for (const name of fs.readdirSync(nodePkg)) {
    if (!['bin', 'package.json', 'LICENSE'].includes(name)) fs.rmSync(path.join(nodePkg, name), { recursive: true, force: true });
  }
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) {
        walk(p);
        if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      } else if (/\.(d\.[cm]?ts|[cm]?ts|tsx|map)$/.test(entry.name) || entry.name === 'tsconfig.json') {
        fs.rmSync(p);
      }
    }
  };
  walk(dir);
  // Debug info is ~13 MB of the node binary; Debian strips what it ships.
  const node = path.join(nodePkg, 'bin', 'node');
  const strip = spawnSync('strip', ['--strip-unneeded', node], { stdio: 'ignore' });
  if (strip.status !== 0) console.error('package: strip not available, node binary shipped unstripped');
}

function copyTree(src, dest, filter = () => true) {
  fs.cpSync(src, dest, { recursive: true, verbatimSymlinks: true, filter });
}

/** Files 0644, executables 0755, directories 0755, whatever the umask and checkout said. */
function normalizeModes(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      fs.chmodSync(p, 0o755);
      normalizeModes(p);
    } else {
      fs.chmodSync(p, fs.statSync(p).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/** dpkg's Installed-Size: KiB, each file rounded up, plus one per directory and link. */
function installedSizeKiB(dir) {
  let kib = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) kib += 1 + installedSizeKiB(p);
    else if (entry.isSymbolicLink()) kib += 1;
    else kib += Math.ceil(fs.statSync(p).size / 1024);
  }
  return kib;
}

function gzip(text) {
  // mtime 0 and no file name in the header: the same input gives the same bytes.
  return zlib.gzipSync(Buffer.from(text), { level: 9 });
}

const POSTINST = `#!/bin/sh
# cradle postinst: reload systemd; enable and start cradle on a first install,
# restart a running cradle on upgrade (containers survive: KillMode=process).
set -e
if [ "$1" = configure ]; then
  mkdir -p /etc/cradle/cradle.conf.d
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ -z "$2" ]; then
      systemctl enable cradle.service || true
      systemctl start cradle.service || echo "cradle: cradle.service did not start; see 'journalctl -u cradle' and 'cradled check'" >&2
    else
      systemctl try-restart cradle.service || true
    fi
  fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
# cradle prerm: on removal stop and disable the service (running containers stay
# with their conmon processes); an upgrade restarts it in postinst instead.
set -e
case "$1" in
  remove|deconfigure)
    if [ -d /run/systemd/system ]; then
      systemctl stop cradle.service || true
    fi
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable cradle.service >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
`;

const postrm = (bridge) => `#!/bin/sh
# cradle postrm: remove keeps /var/lib/cradle (images, records); purge removes
# cradle's state, its run directory, the default CNI network, its IP leases and bridge.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
  # Pinned namespaces, overlay roots and shm mounts first, deepest first.
  awk '{ print $5 }' /proc/self/mountinfo 2>/dev/null | grep -E '^(/run/cradle|/var/lib/cradle)(/|$)' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf /var/lib/cradle /run/cradle /var/lib/cni/networks/cradle
  rm -f ${CNI_FILE} /etc/cni/net.d/10-cradle-default.conflist
  if command -v ip >/dev/null 2>&1 && ip link show ${bridge} >/dev/null 2>&1; then
    ip link delete ${bridge} || true
  fi
  rmdir /etc/cradle/cradle.conf.d /etc/cradle 2>/dev/null || true
fi
exit 0
`;

function controlFile({ version, arch, installedSize }) {
  return [
    'Package: cradle',
    `Version: ${version}`,
    `Architecture: ${arch}`,
    'Maintainer: cradle developers <cradle@invalid>',
    'Section: admin',
    'Priority: optional',
    `Installed-Size: ${installedSize}`,
    // libc6/libstdc++6/libgcc-s1: what the shipped Node.js binary links.
    'Depends: conmon, containernetworking-plugins, iptables, libseccomp2, libc6 (>= 2.28), libstdc++6, libgcc-s1',
    'Recommends: runc',
    'Description: Kubernetes container runtime (CRI v1) in TypeScript',
    ' cradled serves the Kubernetes Container Runtime Interface on',
    ' /run/cradle/cradle.sock for the kubelet and crictl, in the manner of cri-o:',
    ' image pulls, pod sandboxes with CNI networking, containers under conmon,',
    ' exec/attach/port-forward streaming and Prometheus metrics. Containers run',
    ' under cradle-runtime, its own runc-compatible OCI runtime, or runc.',
    ' .',
    ' The package carries its own Node.js 24 under /usr/lib/cradle.',
    '',
  ].join('\n');
}

function main() {
  const options = parseOptions(process.argv.slice(2));
  const dist = path.join(root, 'dist');
  if (!fs.existsSync(path.join(dist, 'src', 'cmd', 'cradled.js'))) throw new Error('dist/ is not built: run npm run build (or npm run package)');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (options.version) pkg.version = options.version;
  const arch = DEB_ARCH[process.arch];
  if (!arch) throw new Error(`no Debian architecture for ${process.arch}`);
  const stage = options.stage ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cradle-deb-'));
  fs.rmSync(stage, { recursive: true, force: true });
  const lib = path.join(stage, PREFIX);
  mkdirp(lib);

  // The program: package.json (how cradle finds its root), wrappers, compiled code.
  write(path.join(lib, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, private: true, type: pkg.type }, null, 2) + '\n');
  copyTree(path.join(root, 'bin'), path.join(lib, 'bin'));
  copyTree(path.join(dist, 'src'), path.join(lib, 'dist', 'src'), (p) => !p.endsWith('.map'));
  // The native runtime launcher, when this build has one.
  if (fs.existsSync(path.join(dist, 'bin'))) copyTree(path.join(dist, 'bin'), path.join(lib, 'dist', 'bin'));
  writeBuildInfo(path.join(lib, 'dist', 'build-info.json'));
  copyTree(path.join(root, 'proto'), path.join(lib, 'proto'), (p) => fs.statSync(p).isDirectory() || /\.proto$|LICENSE$/.test(p));
  for (const rel of productionPackages()) copyPackage(rel, lib);
  pruneNodeModules(path.join(lib, 'node_modules'));

  mkdirp(path.join(stage, 'usr/bin'));
  for (const name of ['cradled', 'cradle-runtime']) fs.symlinkSync(`../lib/cradle/bin/${name}`, path.join(stage, 'usr/bin', name));

  // Generated from the code that reads them, with the code just staged.
  const { renderDefaultConfigFile } = require(path.join(lib, 'dist/src/config/render'));
  const { defaultNetworkConfig } = require(path.join(lib, 'dist/src/cni'));
  const { bashCompletion, zshCompletion } = require(path.join(lib, 'dist/src/cmd/completion'));
  const { cradledMan, configMan, runtimeMan } = require(path.join(lib, 'dist/src/cmd/man'));
  const buildDate = JSON.parse(fs.readFileSync(path.join(lib, 'dist', 'build-info.json'), 'utf8')).buildDate.slice(0, 10);
  write(path.join(stage, 'etc/cradle/cradle.toml'), renderDefaultConfigFile());
  mkdirp(path.join(stage, 'etc/cradle/cradle.conf.d'));
  write(path.join(stage, CNI_FILE), JSON.stringify(defaultNetworkConfig({}), null, 2) + '\n');
  const unit = fs.readFileSync(path.join(root, 'deploy/systemd/cradle.service'), 'utf8');
  if (/\/opt\/|\/usr\/local\//.test(unit)) throw new Error('deploy/systemd/cradle.service names a prefix other than /usr');
  write(path.join(stage, 'lib/systemd/system/cradle.service'), unit);
  write(path.join(stage, 'usr/share/bash-completion/completions/cradled'), bashCompletion());
  write(path.join(stage, 'usr/share/zsh/vendor-completions/_cradled'), zshCompletion());
  const nodeBin = path.join(lib, 'node_modules', NODE_PKG, 'bin/node');
  const runtimeHelp = spawnSync(nodeBin, [path.join(lib, 'dist/src/oci-runtime/main.js'), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (!runtimeHelp.stdout.startsWith('usage: cradle-runtime')) throw new Error(`cradle-runtime --help printed no usage: ${runtimeHelp.stderr}`);
  write(path.join(stage, 'usr/share/man/man8/cradled.8.gz'), gzip(cradledMan(pkg.version, buildDate)));
  write(path.join(stage, 'usr/share/man/man8/cradle-runtime.8.gz'), gzip(runtimeMan(pkg.version, buildDate, runtimeHelp.stdout)));
  write(path.join(stage, 'usr/share/man/man5/cradle.toml.5.gz'), gzip(configMan(pkg.version, buildDate)));
  const doc = path.join(stage, 'usr/share/doc/cradle');
  for (const f of ['README.md', 'docs/deployment.md', 'docs/config.md', 'deploy/crictl.yaml']) {
    fs.cpSync(path.join(root, f), path.join(doc, path.basename(f)));
  }
  write(path.join(doc, 'copyright'), [
    'cradle: Apache-2.0.',
    'Bundled under /usr/lib/cradle/node_modules: Node.js (MIT and others, see',
    `node_modules/${NODE_PKG}/LICENSE) and npm packages under their own licenses,`,
    'each in its directory. proto/cri/api.proto: Apache-2.0, the Kubernetes Authors.',
    '',
  ].join('\n'));
  normalizeModes(stage);

  const debian = path.join(stage, 'DEBIAN');
  const installedSize = installedSizeKiB(stage);
  write(path.join(debian, 'control'), controlFile({ version: pkg.version, arch, installedSize }));
  write(path.join(debian, 'conffiles'), ['/etc/cradle/cradle.toml', CNI_FILE, ''].join('\n'));
  write(path.join(debian, 'postinst'), POSTINST, 0o755);
  write(path.join(debian, 'prerm'), PRERM, 0o755);
  // The bridge the default network (and cradled's own default) creates.
  write(path.join(debian, 'postrm'), postrm(defaultNetworkConfig({}).plugins[0].bridge), 0o755);
  fs.chmodSync(debian, 0o755);

  mkdirp(options.out);
  const deb = path.join(options.out, `cradle_${pkg.version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${options.compression}`, '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!options.stage) fs.rmSync(stage, { recursive: true, force: true });
  const debSize = fs.statSync(deb).size;
  console.log(`${deb}: ${(debSize / 1048576).toFixed(1)} MiB, installed size ${(installedSize / 1024).toFixed(1)} MiB`);
  return { deb, debSize, installedSizeKiB: installedSize };
}

module.exports = { main };
if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`package: ${err.message}`);
    process.exit(1);
  }
}
