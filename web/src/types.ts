export interface User {
  id: string;
  name: string;
  email: string;
}

export interface Task {
  id: number;
  title: string;
  description: string | null;
  status: boolean;
  category: string | null;
  priority: 1 | 2 | 3;
  due_date: string | null;
  completed_at: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  user_id: string;
}

export interface TaskList {
  tasks: Task[];
  total: number;
  limit: number;
  offset: number;
}

export interface Counts {
  total: number;
  completed: number;
}

export interface Stats {
  total_tasks: number;
  completed_tasks: number;
  pending_tasks: number;
  completion_rate: number;
  overdue_tasks: number;
  by_priority: { low: Counts; medium: Counts; high: Counts };
  by_category: Array<{ category: string | null; total: number; completed: number }>;
}

export interface Overview {
  stats: Stats;
  recent_tasks: Task[];
  upcoming_tasks: Task[];
  completed_per_day: Array<{ date: string; count: number }>;
}

export type TaskInput = Partial<Pick<Task, 'title' | 'description' | 'category' | 'priority' | 'status' | 'due_date'>>;
