package servertest

// TaskJSON is the API's Task object with every field typed and timestamps
// kept as the text the server sent, so tests compare them exactly.
type TaskJSON struct {
	ID          int64   `json:"id"`
	Title       string  `json:"title"`
	Description *string `json:"description"`
	Status      bool    `json:"status"`
	Category    *string `json:"category"`
	Priority    int     `json:"priority"`
	DueDate     *string `json:"due_date"`
	CompletedAt *string `json:"completed_at"`
	Version     int     `json:"version"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	UserID      string  `json:"user_id"`
}
