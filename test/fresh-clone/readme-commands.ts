// The README's commands as a newcomer runs them, in order (issue 28): shared by the fresh-clone
// test, which runs them, and test/readme.test.ts, which checks there is nothing else to run.

/** The `sh` code blocks under a README heading, as command lines (blank lines dropped). */
export function shellLines(readme: string, heading: string): string[] {
  const at = readme.indexOf(`\n## ${heading}`)
  if (at < 0) throw new Error(`README has no "## ${heading}" section`)
  const end = readme.indexOf('\n## ', at + 1)
  const section = readme.slice(at, end < 0 ? undefined : end)
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split('\n').filter((l) => l.trim() !== ''))
}

/** The README sections whose commands a newcomer types, in reading order. */
export const README_COMMAND_SECTIONS = ['Try it (a machine with only Node ≥ 20.18.1 and npm)', 'Developer portal'] as const

/**
 * Lines the fresh-clone test does not run, each with why: the whole suite cannot run inside one of
 * its own tests (it needs the services and runs in CI on its own, `.ci/run`).
 */
export const NOT_RUN: Record<string, string> = {
  'pnpm test': 'the test suite itself: .ci/run runs it',
}

/** The command of a line, without its trailing comment. */
export const commandOf = (line: string) => line.replace(/\s+#.*$/, '').trim()
