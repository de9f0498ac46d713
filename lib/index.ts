// Public entry point of the epchat package.
export {
  ChatServer, createServer,
  type Address, type CommandContext, type CommandHandler, type RegisterCommandOptions, type ServerDeps,
  type ServerEvents, type ReloadChange, type SignalName,
  type ConnectEvent, type RegisterEvent, type NickEvent, type JoinEvent, type LeaveEvent, type MessageEvent,
  type DisconnectEvent, type TimeoutEvent,
} from './server.js';
export {
  resolveConfig, resolveConfigDetailed, configFromOptions, toEngineOptions, renderMarkdownTable, renderHelp,
  SETTINGS, RELOADABLE, LOG_LEVELS, LOG_FORMATS,
  type Config, type ReloadableConfig, type ResolveInput, type ResolvedConfig, type Setting, type SettingName,
  type LogLevel, type LogFormat,
} from './config.js';
export { EpchatError, ConfigError, ErrorCodes, type EpchatErrorCode, type ConfigIssue } from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './log.js';
export type {
  EngineOptions, EngineSettings, EngineHostOptions, EngineReloadable, EngineStats, EngineEvent, EngineReply, EngineCommand,
  HostLine, UserInfo, RoomInfo, ClientId, DisconnectReason,
} from './native.js';
export {
  notice, error, list, pm, pmSent, groupMessage,
  type Plugin, type PluginHost, type PluginEvents,
} from './plugin.js';
