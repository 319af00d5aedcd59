/**
 * Sluice runtime: what every generated tool wrapper is built on.
 *
 * Tool calls leave the sandbox as messages to the Sluice gateway, which checks the arguments
 * against the tool's input schema and forwards the call over MCP to the right server.
 */

/** A text block of a tool's content. */
export interface TextContent {
  type: "text";
  text: string;
}

/**
 * An image a tool sent (a browser screenshot, a chart), as base64. Save it with
 * `writeFile("./workspace/shot.png", block.data, "base64")` from "fs/promises".
 */
export interface ImageContent {
  type: "image";
  /** The image's bytes, base64-encoded. */
  data: string;
  /** `image/png`, `image/jpeg`, ... */
  mimeType: string;
}

/** Audio a tool sent, as base64; saved the same way as an image. */
export interface AudioContent {
  type: "audio";
  /** The audio's bytes, base64-encoded. */
  data: string;
  mimeType: string;
}

/** A link to a resource the server offers. */
export interface ResourceLink {
  type: "resource_link";
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/** A resource embedded in the result: `text`, or `blob` (base64) for binary content. */
export interface EmbeddedResource {
  type: "resource";
  resource: { uri: string; mimeType?: string; text?: string; blob?: string };
}

/** One block of a tool's content, by its `type`. */
export type ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource;

/**
 * The content blocks a tool sent. A tool without structured output that sends anything but
 * text (an image with a caption, say) resolves with this list; a `ToolError` carries it too.
 */
export type ToolContent = ContentBlock[];

/** Whether a tool's value is a list of content blocks (see {@link ToolContent}). */
export function isContent(value: unknown): value is ToolContent {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((block) => block !== null && typeof block === "object" && typeof (block as { type?: unknown }).type === "string")
  );
}

/**
 * Why a tool call failed: the tool reported an error (`tool`), the arguments did not match its
 * schema, no such tool, the server is down or reconnecting, the call timed out, the execution's
 * tool-call limit or the server's rate limit was reached, the connection failed, or the privacy
 * policy kept personal data from the tool (`policy_denied`, `privacy_budget`), or the tool policy
 * (`sluice.tools`) denies the tool (`denied`), wants a person's approval that cannot be asked for
 * (`approval_required`), or the person declined or did not answer (`approval_denied`), or the
 * server changed the tool's definition since it was pinned and no one has accepted the change
 * yet (`definition_changed`).
 */
export type ToolErrorKind =
  | "tool"
  | "invalid_arguments"
  | "unknown_tool"
  | "server_unavailable"
  | "timeout"
  | "limit"
  | "transport"
  | "rate_limited"
  | "policy_denied"
  | "privacy_budget"
  | "denied"
  | "approval_required"
  | "approval_denied"
  | "definition_changed";

/**
 * Thrown when a tool call fails: the tool reported an error, the arguments did not match its
 * schema, the server is down, or the call timed out. Catch it to handle the failure in code.
 */
export class ToolError extends Error {
  /** The server the call went to (its folder name under ./servers). */
  readonly server: string;
  /** The tool's original MCP name. */
  readonly tool: string;
  /** Why it failed. */
  readonly kind: ToolErrorKind;
  /** The tool's own content blocks when it reported the error itself. */
  readonly content: ToolContent | undefined;
  /** True when the same call may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(server: string, tool: string, kind: string, message: string, content?: ToolContent, retryable = false) {
    super(`${server}.${tool}: ${message}`);
    this.name = "ToolError";
    this.server = server;
    this.tool = tool;
    this.kind = kind as ToolErrorKind;
    this.content = content;
    this.retryable = retryable;
  }
}

interface HostFailure {
  kind: string;
  message: string;
  content?: ToolContent;
  retryable: boolean;
}

declare const __sluiceHost: {
  callTool(server: string, tool: string, input: unknown): Promise<unknown>;
  progress(message: string, fraction?: number): void;
};

/**
 * Tell the person waiting how far a long execution has come: a short message (up to 200
 * characters) and, when known, the fraction done from 0 to 1. Shown by clients that asked for
 * progress; reports closer than 50 ms apart are dropped, so call it as often as is convenient.
 */
export function reportProgress(message: string, fraction?: number): void {
  __sluiceHost.progress(String(message), typeof fraction === "number" ? fraction : undefined);
}

/**
 * Call a tool by server and original name. Resolves with the tool's `structuredContent`, else its
 * text parsed as JSON when it is JSON, else its text; when it sent anything but text (images,
 * resources), with its {@link ToolContent} blocks. Rejects with a {@link ToolError}.
 */
export async function callMCPTool<T = unknown>(server: string, tool: string, input: unknown = {}): Promise<T> {
  try {
    return (await __sluiceHost.callTool(server, tool, input ?? {})) as T;
  } catch (failure) {
    const detail = failure as HostFailure;
    if (detail && typeof detail === "object" && typeof detail.kind === "string") {
      throw new ToolError(server, tool, detail.kind, detail.message, detail.content, detail.retryable);
    }
    throw failure;
  }
}

/** Options for {@link retry}. */
export interface RetryOptions {
  /** Attempts in all, including the first. Default 3. */
  attempts?: number;
  /** Delay before the second attempt, in ms; doubles after each failure. Default 200. */
  initialDelayMs?: number;
  /** Upper bound of one delay, in ms. Default 5000. */
  maxDelayMs?: number;
  /** Which errors to retry. Default: a ToolError marked retryable. */
  shouldRetry?: (error: unknown) => boolean;
}

/** Run `operation`, retrying transient failures with exponential backoff. */
export async function retry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const shouldRetry = options.shouldRetry ?? ((error: unknown) => error instanceof ToolError && error.retryable);
  let delayMs = options.initialDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !shouldRetry(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}
