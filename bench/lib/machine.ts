/** What machine a benchmark ran on: enough to tell runs on different hosts apart. */
import { cpus, release, totalmem, platform, arch } from 'node:os';
import { readFileSync } from 'node:fs';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly arch: string;
  readonly platform: string;
  readonly kernel: string;
  readonly node: string;
  readonly v8: string;
  readonly memoryBytes: number;
  readonly distro?: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let distro: string | undefined;
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    distro = undefined;
  }
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    arch: arch(),
    platform: platform(),
    kernel: release(),
    node: process.version,
    v8: process.versions.v8,
    memoryBytes: totalmem(),
    ...(distro === undefined ? {} : { distro }),
  };
}
