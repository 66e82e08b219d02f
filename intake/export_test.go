package intake

// SetParseHook makes the pipeline call f before each full parse of a
// message, on the goroutine that parses it.
func (p *Pipeline) SetParseHook(f func()) { p.parseHook = f }
