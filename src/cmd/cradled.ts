#!/usr/bin/env node
// Entry point of `cradled` (see bin/cradled for the launcher).
import { parseArgs, helpText } from './args';
import { isCradleError, messageOf } from '../common/errors';
import { loadConfig, type LoadOptions } from '../config/load';
import { formatVersion, versionInfo } from '../common/build-info';
import { enableCompileCache } from '../common/compile-cache';
// Each subcommand loads what it runs (below): `run` loads the daemon's modules only
// after the compile cache is on.

const EXIT_USAGE = 2;
const DAEMON_COMPILE_CACHE_DIR = '/run/cradled-compile-cache';

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`cradled: ${messageOf(err)}\n`);
    return EXIT_USAGE;
  }
  const loadOptions: LoadOptions = {
    configFileExplicit: args.configFile !== undefined,
    flags: args.settings,
    ...(args.configFile !== undefined ? { configFile: args.configFile } : {}),
    ...(args.configDir !== undefined ? { configDir: args.configDir } : {}),
  };
  switch (args.subcommand) {
    case 'help':
      process.stdout.write(helpText());
      return 0;
    case 'version': {
      const info = versionInfo();
      process.stdout.write(args.json ? JSON.stringify(info, null, 2) + '\n' : formatVersion(info));
      return 0;
    }
    case 'completion':
      const { completionScript } = require('./completion') as typeof import('./completion');
      process.stdout.write(completionScript(args.shell!));
      return 0;
    case 'config': {
      const { renderConfigToml } = require('../config/render') as typeof import('../config/render');
      const loaded = loadConfig(loadOptions);
      process.stdout.write(renderConfigToml(loaded.config, loaded.sources));
      return 0;
    }
    case 'status': {
      const { printStatus } = require('./status') as typeof import('./status');
      const { inspectSocketPath } = require('../daemon/inspect') as typeof import('../daemon/inspect');
      const loaded = loadConfig(loadOptions);
      return printStatus(inspectSocketPath(loaded.config), args.json);
    }
    case 'check': {
      const { checkNode, formatFindings } = require('../daemon/check') as typeof import('../daemon/check');
      const { isSocketLive, socketPathOf } = require('../cri-server/socket') as typeof import('../cri-server/socket');
      const loaded = loadConfig(loadOptions);
      // A running daemon's in-flight creations have no record yet: repairing would
      // take them for orphans. cradled reclaims orphans itself when it starts.
      const socket = socketPathOf(loaded.config.api.listen);
      if (args.repair && await isSocketLive(socket)) {
        process.stderr.write(`cradled: check --repair: cradled is running on ${socket}; stop it first (it reclaims orphans when it starts)\n`);
        return 2;
      }
      const findings = checkNode(loaded.config, args.repair);
      process.stdout.write(formatFindings(findings));
      return findings.some((f) => f.level === 'fail') ? 1 : 0;
    }
    case 'run': {
      // The daemon's modules load after the compile cache is on: with it warm (any
      // start after the first since boot) they are not compiled again.
      enableCompileCache(DAEMON_COMPILE_CACHE_DIR);
      const { Daemon } = require('../daemon/daemon') as typeof import('../daemon/daemon');
      const daemon = await Daemon.start(loadOptions);
      daemon.handleSignals((code) => process.exit(code));
      return -1; // keep running
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cradled: ${messageOf(err)}\n`);
    process.exit(isCradleError(err) && err.code === 'CRADLE_ERR_USAGE' ? EXIT_USAGE : 1);
  },
);
